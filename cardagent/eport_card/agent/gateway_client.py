"""Binding a card, claiming the administrator role with it and logging in with it, against the
gateway's HTTP API (shared/API.md)."""
from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlsplit

import requests

from .. import apdu
from .errors import AgentError, GatewayError
from .purposes import CHALLENGE_PURPOSES, pin_question

DEFAULT_GATEWAY = "http://localhost:8000"

# The PIN, or what asks for it: called with the question (purposes.pin_question) once the card is read.
Pin = str | Callable[[str], str]


class Card(Protocol):
    """What the client needs from a card; reader.CardSession is one."""

    def read_info(self): ...
    def read_certificate(self) -> str: ...
    def verify_pin(self, pin: str) -> None: ...
    def sign(self, challenge_bytes: bytes) -> bytes: ...


class GatewayClient:
    def __init__(self, base_url: str = DEFAULT_GATEWAY, timeout: float = 10.0,
                 http: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.http = http or requests.Session()

    @property
    def origin(self) -> str:
        """The site the card proves itself to, as a PIN prompt names it."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    def create_challenge(self, purpose: str, card_no: str, access_token: str | None = None) -> dict:
        # A bind challenge is issued to the logged-in account: it needs the bearer token.
        headers = {"Authorization": f"Bearer {access_token}"} if access_token else None
        return self._post("/api/v1/card-challenges", {"purpose": purpose, "card_no": card_no}, headers=headers)

    def bind_card(self, access_token: str, enterprise_id: str, body: dict) -> dict:
        return self._post(f"/api/v1/enterprises/{enterprise_id}/card", body,
                          headers={"Authorization": f"Bearer {access_token}"})

    def claim_admin(self, access_token: str, body: dict) -> dict:
        return self._post("/api/v1/admin-claims", body, headers={"Authorization": f"Bearer {access_token}"})

    def create_card_session(self, body: dict) -> dict:
        return self._post("/api/v1/sessions", {"method": "card", **body})

    def _post(self, path: str, body: dict, headers: dict | None = None) -> dict:
        url = self.base_url + path
        try:
            resp = self.http.post(url, json=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise GatewayError(None, "GATEWAY_UNREACHABLE", f"POST {url} failed: {exc}") from None
        try:
            payload = resp.json()
        except ValueError:
            payload = None
        if resp.ok:
            if not isinstance(payload, dict):
                raise GatewayError(resp.status_code, "BAD_GATEWAY_RESPONSE",
                                   f"POST {path} answered without a JSON object")
            return payload
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            raise GatewayError(resp.status_code, error["code"], str(error.get("message", "")),
                               error.get("details") if isinstance(error.get("details"), dict) else {})
        raise GatewayError(resp.status_code, f"HTTP_{resp.status_code}",
                           resp.text[:200] or resp.reason or "error without a body")


def bind(base_url: str, access_token: str, enterprise_id: str, pin: Pin, *,
         card: Card | None = None, timeout: float = 10.0, card_timeout: float = 0.0) -> dict:
    """Bind the card in the reader to the enterprise; returns {card_no, card_type, bound_at}."""
    client = GatewayClient(base_url, timeout)
    with _card_in_use(card, card_timeout) as session:
        proof = _prove_possession(client, session, "bind", pin, access_token)
        return client.bind_card(access_token, enterprise_id, proof)


def claim_admin(base_url: str, access_token: str, uscc: str, pin: Pin, *, card: Card | None = None,
                timeout: float = 10.0, card_timeout: float = 0.0, **enterprise_details) -> dict:
    """Claim the administrator role of the enterprise `uscc` with its legal-person card in the
    reader (角色认证); `enterprise_details` (name, address, business_scope) register an enterprise
    nobody has registered and the registry does not know. Returns the claim's answer."""
    client = GatewayClient(base_url, timeout)
    with _card_in_use(card, card_timeout) as session:
        proof = _prove_possession(client, session, "admin_claim", pin, access_token)
        details = {k: v for k, v in enterprise_details.items() if v is not None}
        return client.claim_admin(access_token, {"uscc": uscc, **proof, **details})


def login(base_url: str, pin: Pin, *, card: Card | None = None, timeout: float = 10.0,
          card_timeout: float = 0.0) -> dict:
    """Log in with the card in the reader; returns {access_token, token_type, expires_in, user_id}."""
    client = GatewayClient(base_url, timeout)
    with _card_in_use(card, card_timeout) as session:
        proof = _prove_possession(client, session, "login", pin)
        proof.pop("card_no")
        return client.create_card_session(proof)


def _prove_possession(client: GatewayClient, card: Card, purpose: str, pin: Pin,
                      access_token: str | None = None) -> dict:
    info = card.read_info()
    certificate = card.read_certificate()
    if callable(pin):
        pin = pin(pin_question(purpose, info.card_no, client.origin))
    # The PIN first: a wrong PIN should not leave a spent challenge behind on the server.
    card.verify_pin(pin)
    challenge = client.create_challenge(CHALLENGE_PURPOSES[purpose], info.card_no, access_token)
    try:
        challenge_id = challenge["challenge_id"]
        nonce = base64.b64decode(challenge["nonce"], validate=True)
    except (KeyError, TypeError, binascii.Error):
        raise GatewayError(None, "BAD_GATEWAY_RESPONSE", "challenge without challenge_id/nonce") from None
    if not 1 <= len(nonce) <= apdu.MAX_CHALLENGE:
        raise AgentError(f"the card signs 1–{apdu.MAX_CHALLENGE} bytes; the nonce has {len(nonce)}")
    signature = card.sign(nonce)
    return {
        "card_no": info.card_no,
        "challenge_id": challenge_id,
        "certificate": certificate,
        "signature": base64.b64encode(signature).decode("ascii"),
    }


class _card_in_use:
    """The given card as is, or the first card found, closed afterwards."""

    def __init__(self, card: Card | None, timeout: float):
        self._given, self._timeout, self._opened = card, timeout, None

    def __enter__(self) -> Card:
        if self._given is not None:
            return self._given
        from .reader import find_card
        self._opened = find_card(timeout=self._timeout)
        return self._opened

    def __exit__(self, *exc) -> None:
        if self._opened is not None:
            self._opened.close()

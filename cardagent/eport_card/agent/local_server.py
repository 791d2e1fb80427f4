"""The agent's local mode for the web console: `eport-card-agent serve`.

A small HTTP program on 127.0.0.1 that lets the console's page use the card in the reader, as
real e-port pages reach theirs. It knows nothing of the platform: the console asks the gateway
for a challenge, the agent has the card sign its nonce, and the console sends the proof to the
gateway. The agent never sees an access token.

- It listens on 127.0.0.1 only, and answers a request only when its Host is this address (a
  page of another site cannot reach it by DNS rebinding).
- The JSON API (/v1/...) answers only the console's origin (CORS); other origins get 403.
- The PIN never passes through the console's page: each signature gets a one-time prompt, a page
  of the agent's own origin the console shows in a frame (or the agent's terminal asks, with
  --pin-entry terminal). The PIN is used for that one signature and not kept.
- A signature names its purpose (purposes.py); the prompt says it, the card's number and the
  origin asking, and a purpose the agent does not know is refused before any prompt.

  GET  /v1/card                      200 {card_no, card_type, holder_name, reader}; 404 CARD_NOT_FOUND
  POST /v1/signatures                {nonce (base64, 1-64 bytes), purpose (bind | login | admin_claim |
                                     identity), card_no?} -> 201 {request_id, pin_entry, expires_in,
                                     prompt_url (browser entry)}; 400 VALIDATION_ERROR naming the field
  GET  /v1/signatures/{request_id}   {state: waiting_pin | signing | done | failed, result? {card_no,
                                     card_type, certificate, signature}, error?}; done or failed once
  GET, POST /pin/{token}             the one-time prompt page, and its form (the agent's own origin)
"""
from __future__ import annotations

import base64
import binascii
import getpass
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .. import apdu
from .errors import AgentError, CardBusy
from .prompt_page import PROMPT_PAGE, pin_form
from .purposes import UnknownPurpose, check_purpose, pin_question
from .signer import CardNoMismatch, CardSigner, agent_error

DEFAULT_PORT = 17380
DEFAULT_ORIGINS = ("http://localhost:8000", "http://127.0.0.1:8000")
PROMPT_TTL = 120.0  # seconds a signature request waits for its PIN
MAX_BODY = 4096
MAX_PENDING = 8


@dataclass
class Signing:
    """One signature the console asked for: waits for its PIN, then holds the answer once."""
    nonce: bytes
    card_no: str
    prompt_token: str
    purpose: str
    origin: str  # the site that asked, as its page's Origin said
    created: float = field(default_factory=time.monotonic)
    state: str = "waiting_pin"  # -> done | failed
    result: dict | None = None
    error: dict | None = None

    def expired(self, now: float) -> bool:
        return self.state == "waiting_pin" and now - self.created > PROMPT_TTL

    @property
    def question(self) -> str:
        return pin_question(self.purpose, self.card_no, self.origin)


class AgentServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, origins, signer: CardSigner, port: int = DEFAULT_PORT, pin_entry: str = "browser",
                 ask_pin=None, log=print):
        super().__init__(("127.0.0.1", port), AgentHandler)
        self.origins = {o.rstrip("/") for o in origins}
        self.signer = signer
        self.pin_entry = pin_entry
        self.ask_pin = ask_pin or (lambda question: getpass.getpass(f"{question}\nIC 卡密码 (card PIN): "))
        self.log = log
        self.signings: dict[str, Signing] = {}
        self.lock = threading.Lock()

    @property
    def own_origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def own_hosts(self) -> set[str]:
        port = self.server_address[1]
        return {f"127.0.0.1:{port}", f"localhost:{port}"}

    def new_signing(self, nonce: bytes, card_no: str, purpose: str, origin: str) -> tuple[str, Signing]:
        with self.lock:
            now = time.monotonic()
            for key in [k for k, s in self.signings.items() if s.expired(now) or now - s.created > 2 * PROMPT_TTL]:
                del self.signings[key]
            if sum(s.state == "waiting_pin" for s in self.signings.values()) >= MAX_PENDING:
                raise TooMany()
            request_id = secrets.token_urlsafe(16)
            signing = Signing(nonce, card_no, secrets.token_urlsafe(24), purpose, origin)
            self.signings[request_id] = signing
        if self.pin_entry == "terminal":
            threading.Thread(target=self._terminal_pin, args=(signing,), daemon=True).start()
        return request_id, signing

    def _find(self, token: str) -> Signing | None:
        given = token.encode("utf-8", "replace")
        return next((s for s in self.signings.values() if secrets.compare_digest(s.prompt_token.encode(), given)), None)

    def by_prompt(self, token: str) -> Signing | None:
        with self.lock:
            return self._find(token)

    def take_prompt(self, token: str) -> Signing | None:
        """The signing waiting for this prompt's PIN, claimed: a prompt answers once."""
        with self.lock:
            signing = self._find(token)
            if signing is None or signing.state != "waiting_pin" or signing.expired(time.monotonic()):
                return None
            signing.state = "signing"
            return signing

    def complete(self, signing: Signing, pin: str) -> None:
        try:
            signing.result = self.signer.sign(signing.nonce, signing.card_no, pin)
            signing.state = "done"
        except CardNoMismatch as exc:
            signing.error = {"code": "CARD_NO_MISMATCH", "message": str(exc), "details": {}}
            signing.state = "failed"
        except (AgentError, ValueError) as exc:
            signing.error = agent_error(exc)
            signing.state = "failed"

    def _terminal_pin(self, signing: Signing) -> None:
        with self.lock:
            signing.state = "signing"
        try:
            pin = self.ask_pin(signing.question)
        except (EOFError, KeyboardInterrupt):
            signing.error = {"code": "PIN_TIMEOUT", "message": "no PIN entered", "details": {}}
            signing.state = "failed"
            return
        self.complete(signing, pin)


class TooMany(Exception):
    pass


class InvalidRequest(ValueError):
    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


def read_signature_request(raw: bytes | None) -> tuple[bytes, str | None, str]:
    """(nonce, card_no or None, purpose) of a POST /v1/signatures body; InvalidRequest names the field."""
    try:
        body = json.loads(raw or b"")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise InvalidRequest("body", "A JSON object: nonce, purpose and optionally card_no.")
    try:
        nonce = base64.b64decode(body["nonce"], validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise InvalidRequest("nonce", "Not base64.") from None
    if not 1 <= len(nonce) <= apdu.MAX_CHALLENGE:
        raise InvalidRequest("nonce", f"1 to {apdu.MAX_CHALLENGE} bytes.")
    card_no = body.get("card_no")
    if card_no is not None and not (isinstance(card_no, str) and card_no.isdigit() and len(card_no) <= 32):
        raise InvalidRequest("card_no", "Digits, at most 32.")
    try:
        return nonce, card_no, check_purpose(body.get("purpose"))
    except UnknownPurpose as exc:
        raise InvalidRequest("purpose", str(exc)) from None


class AgentHandler(BaseHTTPRequestHandler):
    server: AgentServer
    server_version = "eport-card-agent"
    sys_version = ""

    def log_request(self, code="-", size="-"):
        # the path holds one-time ids: log only its first segment
        first = urlsplit(self.path).path.split("/")[1] if self.path.startswith("/") else "?"
        self.server.log(f"[agent] {self.command} /{first} {code}")

    def log_message(self, format, *args):
        pass

    # -- plumbing ------------------------------------------------------------------------------
    def _host_ok(self) -> bool:
        return self.headers.get("Host", "") in self.server.own_hosts

    def _origin(self) -> str | None:
        origin = self.headers.get("Origin")
        return origin if origin in self.server.origins else None

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json",
              headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: dict, origin: str | None = None) -> None:
        headers = {"Vary": "Origin"}
        if origin:
            headers["Access-Control-Allow-Origin"] = origin
        self._send(status, json.dumps(payload, ensure_ascii=False).encode(), headers=headers)

    def _error(self, status: int, code: str, message: str, origin: str | None = None, details=None) -> None:
        self._json(status, {"error": {"code": code, "message": message, "details": details or {}}}, origin)

    def _body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return None
        if not 0 <= length <= MAX_BODY:
            return None
        return self.rfile.read(length)

    def _api_caller(self) -> str | None:
        """The console's origin when this API request may be answered, else None (already refused)."""
        if not self._host_ok():
            self._error(403, "ORIGIN_REFUSED", "Host not allowed.")
            return None
        origin = self._origin()
        if origin is None:
            self._error(403, "ORIGIN_REFUSED", "Only the console's origin may use the agent.")
            return None
        return origin

    # -- CORS preflight ------------------------------------------------------------------------
    def do_OPTIONS(self):
        origin = self._origin() if self._host_ok() else None
        if origin is None or not self.path.startswith("/v1/"):
            self._send(403, headers={"Vary": "Origin"})
            return
        self._send(204, headers={"Access-Control-Allow-Origin": origin, "Vary": "Origin",
                                 "Access-Control-Allow-Methods": "GET, POST",
                                 "Access-Control-Allow-Headers": "Content-Type",
                                 "Access-Control-Max-Age": "600"})

    # -- routes --------------------------------------------------------------------------------
    def do_GET(self):
        path = urlsplit(self.path).path
        if path.startswith("/pin/"):
            return self._prompt_page(path.removeprefix("/pin/"))
        origin = self._api_caller()
        if origin is None:
            return
        if path == "/v1/card":
            try:
                return self._json(200, self.server.signer.info(), origin)
            except AgentError as exc:
                return self._card_failure(exc, origin)
        if path.startswith("/v1/signatures/"):
            return self._signing_state(path.removeprefix("/v1/signatures/"), origin)
        self._error(404, "NOT_FOUND", "No such endpoint.", origin)

    def do_POST(self):
        path = urlsplit(self.path).path
        if path.startswith("/pin/"):
            return self._prompt_answer(path.removeprefix("/pin/"))
        origin = self._api_caller()
        if origin is None:
            return
        if path != "/v1/signatures":
            return self._error(404, "NOT_FOUND", "No such endpoint.", origin)
        try:
            nonce, card_no, purpose = read_signature_request(self._body())
            # The prompt names the card that will sign: when the page named none, the one in the reader.
            card_no = card_no or self.server.signer.info()["card_no"]
        except InvalidRequest as exc:
            return self._error(400, "VALIDATION_ERROR", f"Bad {exc.field}.", origin, {exc.field: [exc.problem]})
        except AgentError as exc:
            return self._card_failure(exc, origin)
        try:
            request_id, signing = self.server.new_signing(nonce, card_no, purpose, origin)
        except TooMany:
            return self._error(429, "CARD_ERROR", "Too many signatures waiting for a PIN.", origin)
        answer = {"request_id": request_id, "pin_entry": self.server.pin_entry, "expires_in": int(PROMPT_TTL)}
        if self.server.pin_entry == "browser":
            answer["prompt_url"] = f"{self.server.own_origin}/pin/{signing.prompt_token}"
        self._json(201, answer, origin)

    def _card_failure(self, exc: AgentError, origin: str) -> None:
        if isinstance(exc, CardBusy):
            return self._error(409, "CARD_ERROR", str(exc), origin)
        error = agent_error(exc)
        self._error(404 if error["code"] == "CARD_NOT_FOUND" else 500, error["code"], error["message"], origin)

    def _signing_state(self, request_id: str, origin: str) -> None:
        with self.server.lock:
            signing = self.server.signings.get(request_id)
            if signing is not None and signing.expired(time.monotonic()):
                signing.state = "failed"
                signing.error = {"code": "PIN_TIMEOUT", "message": "no PIN entered in time", "details": {}}
            if signing is not None and signing.state in ("done", "failed"):
                del self.server.signings[request_id]  # the answer is handed out once
        if signing is None:
            return self._error(404, "NOT_FOUND", "No such signature request.", origin)
        answer = {"state": signing.state}
        if signing.result:
            answer["result"] = signing.result
        if signing.error:
            answer["error"] = signing.error
        self._json(200, answer, origin)

    def _prompt_headers(self) -> dict:
        ancestors = " ".join(sorted(self.server.origins)) or "'none'"
        return {"Content-Security-Policy": f"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                           f"frame-ancestors {ancestors}",
                "Referrer-Policy": "same-origin"}  # no-referrer would make the form post Origin: null

    def _page(self, status: int, body: str) -> None:
        self._send(status, PROMPT_PAGE.format(body=body).encode(), "text/html", self._prompt_headers())

    def _prompt_page(self, token: str) -> None:
        if not self._host_ok():
            return self._send(403)
        signing = self.server.by_prompt(token)
        if signing is None or signing.state != "waiting_pin" or signing.expired(time.monotonic()):
            return self._page(404, "<p>此验证已失效，请在页面上重新操作。</p>")
        self._page(200, pin_form(token, signing.question))

    def _prompt_answer(self, token: str) -> None:
        # The form posts from the prompt page itself: its origin is the agent's own.
        if not self._host_ok() or self.headers.get("Origin") != self.server.own_origin:
            return self._send(403)
        raw = self._body()
        pin = (parse_qs((raw or b"").decode("utf-8", "replace")).get("pin") or [""])[0]
        signing = self.server.take_prompt(token)
        if signing is None:
            return self._page(404, "<p>此验证已失效，请在页面上重新操作。</p>")
        self.server.complete(signing, pin)
        if signing.state == "done":
            return self._page(200, "<p>IC 卡验证完成。</p>")
        self._page(200, "<p>IC 卡验证未通过，请查看页面上的提示。</p>")


def serve(origins, port: int = DEFAULT_PORT, pin_entry: str = "browser", card_timeout: float = 5.0) -> None:
    server = AgentServer(origins, CardSigner(card_timeout), port=port, pin_entry=pin_entry)
    print(f"[agent] listening on {server.own_origin} for {', '.join(sorted(server.origins))}; "
          f"PIN entry: {pin_entry}; Ctrl-C stops", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

"""The agent's bind/login client against a stand-in gateway on localhost, with a card in memory."""
import base64
import os
from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from eport_card import devca
from eport_card.agent.errors import AgentError, GatewayError, WrongPin
from eport_card.agent.gateway_client import bind, claim_admin, login
from eport_card.agent.reader import CardInfo
from services.card import certs
from tests.json_http import JsonHandler, serving

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def image():
    return devca.issue_card(devca.create_ca(), card_no="8800000012345", card_type="legal_person",
                            holder_name="李四", holder_id_number="11010519491231002X",
                            uscc="91350100M000100Y43", pin="123456", pin_hash_iterations=1000)


class MemoryCard:
    """Behaves like reader.CardSession, without a reader."""

    def __init__(self, image):
        self.image = image
        self.key = serialization.load_pem_private_key(image.private_key_pem.encode(), password=None)
        self.verified = False
        self.calls = []

    def read_info(self):
        self.calls.append("read_info")
        return CardInfo(self.image.card_no, self.image.card_type, self.image.holder_name, 0)

    def read_certificate(self):
        self.calls.append("read_certificate")
        return self.image.certificate_pem

    def verify_pin(self, pin):
        self.calls.append("verify_pin")
        if pin != "123456":
            raise WrongPin(4, 0x63C4)
        self.verified = True

    def sign(self, challenge):
        self.calls.append("sign")
        assert self.verified
        return self.key.sign(challenge, ec.ECDSA(hashes.SHA256()))


@dataclass
class StubGateway:
    url: str
    requests: list = field(default_factory=list)
    nonces: dict = field(default_factory=dict)
    # path -> (status, body) to answer instead of the normal flow
    overrides: dict = field(default_factory=dict)
    nonce_size: int = 32


@pytest.fixture
def gateway():
    state = StubGateway(url="")

    class Handler(JsonHandler):
        def do_POST(self):
            body = self.json_body()
            state.requests.append((self.path, self.headers.get("Authorization"), body))
            if self.path in state.overrides:
                status, answer = state.overrides[self.path]
                return self.answer(status, answer)
            if self.path == "/api/v1/card-challenges":
                challenge_id = f"ch-{len(state.nonces) + 1}"
                state.nonces[challenge_id] = os.urandom(state.nonce_size)
                return self.answer(201, {"challenge_id": challenge_id, "expires_in": 120,
                                         "nonce": base64.b64encode(state.nonces[challenge_id]).decode()})
            nonce = state.nonces[body["challenge_id"]]
            if not certs.verify_signature(body["certificate"], nonce, base64.b64decode(body["signature"])):
                return self.answer(400, {"error": {"code": "CARD_SIGNATURE_INVALID", "message": "bad", "details": {}}})
            if self.path == "/api/v1/sessions":
                return self.answer(201, {"access_token": "tok", "token_type": "Bearer",
                                         "expires_in": 3600, "user_id": "u-1"})
            return self.answer(201, {"card_no": body["card_no"], "card_type": "legal_person",
                                     "bound_at": "2025-01-01T00:00:00+00:00"})

    with serving(Handler) as url:
        state.url = url
        yield state


def test_bind_follows_the_contract(gateway, image):
    card = MemoryCard(image)
    result = bind(gateway.url + "/", "access-1", "ent-9", "123456", card=card)
    assert result == {"card_no": "8800000012345", "card_type": "legal_person",
                      "bound_at": "2025-01-01T00:00:00+00:00"}
    (p1, auth1, b1), (p2, auth2, b2) = gateway.requests
    assert (p1, b1) == ("/api/v1/card-challenges", {"purpose": "bind", "card_no": "8800000012345"})
    assert p2 == "/api/v1/enterprises/ent-9/card"
    assert auth2 == "Bearer access-1"
    assert set(b2) == {"card_no", "challenge_id", "certificate", "signature"}
    assert b2["challenge_id"] == "ch-1" and b2["certificate"] == image.certificate_pem
    assert card.calls.index("verify_pin") < card.calls.index("sign")


def test_login_follows_the_contract(gateway, image):
    result = login(gateway.url, "123456", card=MemoryCard(image))
    assert result["access_token"] == "tok"
    (p1, _, b1), (p2, auth2, b2) = gateway.requests
    assert b1 == {"purpose": "login", "card_no": "8800000012345"}
    assert p2 == "/api/v1/sessions" and auth2 is None
    assert set(b2) == {"method", "challenge_id", "certificate", "signature"} and b2["method"] == "card"
    assert certs.verify_signature(b2["certificate"], gateway.nonces["ch-1"], base64.b64decode(b2["signature"]))


def test_the_pin_is_asked_naming_the_purpose_the_card_and_the_site(gateway, image):
    """A PIN asker (the command line's prompt) is called once the card is read, with the sentence
    it shows: what the signature is for, which card, which site."""
    asked = []

    def ask(question):
        asked.append(question)
        return "123456"
    login(gateway.url, ask, card=MemoryCard(image))
    claim_admin(gateway.url, "access-1", "91350100M000100Y43", ask, card=MemoryCard(image))
    origin = gateway.url.rstrip("/")
    assert asked == [f"{origin} 请求使用 IC 卡 8800000012345 进行「登录」",
                     f"{origin} 请求使用 IC 卡 8800000012345 进行「法人认领」"]
    # a claim proves the card with a bind challenge (shared/API.md)
    assert [b["purpose"] for p, _, b in gateway.requests if p == "/api/v1/card-challenges"] == ["login", "bind"]


def test_wrong_pin_stops_before_the_server(gateway, image):
    with pytest.raises(WrongPin) as wrong:
        login(gateway.url, "000000", card=MemoryCard(image))
    assert wrong.value.tries_left == 4
    assert gateway.requests == []


def test_error_body_becomes_an_exception(gateway, image):
    gateway.overrides["/api/v1/enterprises/e1/card"] = (422, {"error": {
        "code": "CARD_HOLDER_MISMATCH", "message": "持卡人与账号不一致", "details": {"card_no": "8800000012345"}}})
    with pytest.raises(GatewayError) as err:
        bind(gateway.url, "t", "e1", "123456", card=MemoryCard(image))
    assert (err.value.status, err.value.code) == (422, "CARD_HOLDER_MISMATCH")
    assert err.value.message == "持卡人与账号不一致"
    assert err.value.details == {"card_no": "8800000012345"}


def test_error_without_the_error_shape(gateway, image):
    gateway.overrides["/api/v1/card-challenges"] = (502, b"<html>bad gateway</html>")
    with pytest.raises(GatewayError) as err:
        login(gateway.url, "123456", card=MemoryCard(image))
    assert (err.value.status, err.value.code) == (502, "HTTP_502")


def test_challenge_without_nonce(gateway, image):
    gateway.overrides["/api/v1/card-challenges"] = (201, {"challenge_id": "x"})
    with pytest.raises(GatewayError) as err:
        login(gateway.url, "123456", card=MemoryCard(image))
    assert err.value.code == "BAD_GATEWAY_RESPONSE"


def test_nonce_longer_than_the_card_signs(gateway, image):
    gateway.nonce_size = 65
    with pytest.raises(AgentError, match="1–64 bytes"):
        login(gateway.url, "123456", card=MemoryCard(image))


def test_unreachable_gateway(image):
    with pytest.raises(GatewayError) as err:
        login("http://127.0.0.1:9", "123456", card=MemoryCard(image), timeout=2)
    assert (err.value.status, err.value.code) == (None, "GATEWAY_UNREACHABLE")

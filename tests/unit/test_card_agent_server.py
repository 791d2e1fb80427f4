"""The card agent's local mode (`eport-card-agent serve`) over real HTTP on 127.0.0.1, with a
stand-in card: only the console's origin is answered, the PIN goes only to the agent's own
one-time prompt, which names the purpose, the card and the site, and is used for one signature
of a purpose the agent knows and kept nowhere."""
import base64
import threading
from contextlib import contextmanager

import pytest
import requests

from eport_card.agent.errors import CardNotFound, WrongPin
from eport_card.agent.local_server import AgentServer, CardSigner
from tests.support import http_error

pytestmark = pytest.mark.unit

CONSOLE = "http://localhost:8000"
PIN = "123456"


class StandInCard:
    """What CardSigner needs of a card session; records the PINs it was given."""
    card_no, card_type, holder_name = "8800000012345", "legal_person", "张三"

    def __init__(self, present=True):
        self.present = present
        self.pins = []
        self.reader = "Virtual PCD 00 00"

    def __call__(self):  # CardSigner's open_card
        if not self.present:
            raise CardNotFound("no e-port card in any reader")
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def read_info(self):
        return self

    def read_certificate(self):
        return "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

    def verify_pin(self, pin):
        self.pins.append(pin)
        if pin != PIN:
            raise WrongPin(2, 0x63C2)

    def sign(self, data):
        return b"signed:" + data


@contextmanager
def running(card, **kwargs):
    server = AgentServer([CONSOLE], CardSigner(open_card=card), port=0, log=lambda line: None, **kwargs)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server, server.own_origin
    finally:
        server.shutdown()
        server.server_close()


def ask_signature(base, nonce=b"nonce-123", **extra):
    extra.setdefault("purpose", "bind")
    r = requests.post(f"{base}/v1/signatures", json={"nonce": base64.b64encode(nonce).decode(), **extra},
                      headers={"Origin": CONSOLE}, timeout=5)
    assert r.status_code == 201, r.text
    assert r.headers["Access-Control-Allow-Origin"] == CONSOLE
    return r.json()


def answer_prompt(base, prompt_url, pin):
    return requests.post(prompt_url, data={"pin": pin}, headers={"Origin": base}, timeout=5)


def state(base, request_id):
    return requests.get(f"{base}/v1/signatures/{request_id}", headers={"Origin": CONSOLE}, timeout=5)


def test_the_console_reads_the_card_and_gets_a_signature_after_the_prompt_took_the_pin():
    card = StandInCard()
    with running(card) as (server, base):
        r = requests.get(f"{base}/v1/card", headers={"Origin": CONSOLE}, timeout=5)
        assert r.status_code == 200 and r.json()["card_no"] == card.card_no
        asked = ask_signature(base, card_no=card.card_no)
        assert asked["pin_entry"] == "browser" and asked["prompt_url"].startswith(f"{base}/pin/")
        assert state(base, asked["request_id"]).json() == {"state": "waiting_pin"}
        page = requests.get(asked["prompt_url"], timeout=5)
        assert page.status_code == 200 and 'type="password"' in page.text
        assert f"frame-ancestors {CONSOLE}" in page.headers["Content-Security-Policy"]
        assert answer_prompt(base, asked["prompt_url"], PIN).status_code == 200
        done = state(base, asked["request_id"]).json()
        assert done["state"] == "done"
        assert base64.b64decode(done["result"]["signature"]) == b"signed:nonce-123"
        assert card.pins == [PIN]
        assert state(base, asked["request_id"]).status_code == 404  # the answer is handed out once
        assert PIN not in repr(vars(server)) and not server.signings  # the PIN is kept nowhere


def test_a_prompt_answers_once_and_a_wrong_pin_says_the_tries_left():
    card = StandInCard()
    with running(card) as (_, base):
        asked = ask_signature(base)
        answer_prompt(base, asked["prompt_url"], "000000")
        failed = state(base, asked["request_id"]).json()
        assert failed["state"] == "failed"
        assert failed["error"] == {"code": "WRONG_PIN", "message": "wrong PIN, 2 tries left (SW 63C2)",
                                   "details": {"tries_left": 2}}
        again = answer_prompt(base, asked["prompt_url"], PIN)
        assert again.status_code == 404
        assert card.pins == ["000000"]


def test_other_origins_hosts_and_pin_posts_from_elsewhere_are_refused():
    card = StandInCard()
    with running(card) as (server, base):
        port = server.server_address[1]
        for headers in ({"Origin": "http://evil.example"}, {}, {"Origin": "null"}):
            r = requests.get(f"{base}/v1/card", headers=headers, timeout=5)
            assert r.status_code == 403 and "Access-Control-Allow-Origin" not in r.headers
        pre = requests.options(f"{base}/v1/signatures", headers={"Origin": "http://evil.example",
                                                                 "Access-Control-Request-Method": "POST"}, timeout=5)
        assert pre.status_code == 403 and "Access-Control-Allow-Origin" not in pre.headers
        pre = requests.options(f"{base}/v1/signatures", headers={"Origin": CONSOLE,
                                                                 "Access-Control-Request-Method": "POST"}, timeout=5)
        assert pre.status_code == 204 and pre.headers["Access-Control-Allow-Origin"] == CONSOLE
        rebound = requests.get(f"{base}/v1/card", headers={"Origin": CONSOLE, "Host": f"evil.example:{port}"},
                               timeout=5)
        assert rebound.status_code == 403  # DNS rebinding: a foreign Host name
        asked = ask_signature(base)
        forged = requests.post(asked["prompt_url"], data={"pin": PIN}, headers={"Origin": CONSOLE}, timeout=5)
        assert forged.status_code == 403  # the PIN is taken only from the agent's own prompt page
        assert card.pins == []
        assert server.server_address[0] == "127.0.0.1"


def test_bad_requests_and_a_missing_card_get_the_error_shape():
    with running(StandInCard(present=False)) as (_, base):
        r = requests.get(f"{base}/v1/card", headers={"Origin": CONSOLE}, timeout=5)
        assert r.status_code == 404 and http_error(r)["code"] == "CARD_NOT_FOUND"
        for body in ({"nonce": "not base64!"}, {}, {"nonce": base64.b64encode(b"x" * 65).decode()},
                     {"nonce": "bm9uY2U=", "card_no": "12ab"}, [], {"nonce": 7}):
            if isinstance(body, dict):
                body = {"purpose": "login", **body}
            r = requests.post(f"{base}/v1/signatures", json=body, headers={"Origin": CONSOLE}, timeout=5)
            assert r.status_code == 400 and http_error(r)["code"] == "VALIDATION_ERROR", body
        r = requests.post(f"{base}/v1/signatures", json={"nonce": "bm9uY2U=", "purpose": "login"},
                          headers={"Origin": CONSOLE}, timeout=5)
        assert r.status_code == 404 and http_error(r)["code"] == "CARD_NOT_FOUND"  # no card to name
        asked = ask_signature(base, card_no=StandInCard.card_no)
        answer_prompt(base, asked["prompt_url"], PIN)
        assert http_error(state(base, asked["request_id"]))["code"] == "CARD_NOT_FOUND"


def test_a_card_with_another_number_is_not_signed_with():
    card = StandInCard()
    with running(card) as (_, base):
        asked = ask_signature(base, card_no="8800000099999")
        answer_prompt(base, asked["prompt_url"], PIN)
        assert http_error(state(base, asked["request_id"]))["code"] == "CARD_NO_MISMATCH"
        assert card.pins == []


def test_terminal_mode_asks_the_pin_on_the_agents_terminal():
    card = StandInCard()
    questions = []

    def ask_pin(question):
        questions.append(question)
        return PIN
    with running(card, pin_entry="terminal", ask_pin=ask_pin) as (_, base):
        asked = ask_signature(base, purpose="identity")
        assert asked["pin_entry"] == "terminal" and "prompt_url" not in asked
        for _ in range(100):
            answer = state(base, asked["request_id"]).json()
            if answer["state"] == "done":
                break
            threading.Event().wait(0.02)
        assert answer["state"] == "done" and card.pins == [PIN]
    assert questions == [f"{CONSOLE} 请求使用 IC 卡 {card.card_no} 进行「实名认领」"]


@pytest.mark.parametrize("purpose, label", [("bind", "绑定"), ("login", "登录"), ("admin_claim", "法人认领"),
                                            ("identity", "实名认领")])
def test_the_prompt_names_the_purpose_the_card_and_the_site(purpose, label):
    card = StandInCard()
    with running(card) as (_, base):
        asked = ask_signature(base, purpose=purpose)  # no card_no: the prompt names the card in the reader
        page = requests.get(asked["prompt_url"], timeout=5).text
        assert f"{CONSOLE} 请求使用 IC 卡 {card.card_no} 进行「{label}」" in page
        assert '<label for="pin">' in page


def test_a_purpose_the_agent_does_not_know_is_refused_before_any_prompt():
    card = StandInCard()
    with running(card) as (server, base):
        for purpose in ("transfer", "", None, 1, "BIND", "bind "):
            body = {"nonce": base64.b64encode(b"n").decode(), "card_no": card.card_no}
            if purpose is not None:
                body["purpose"] = purpose
            r = requests.post(f"{base}/v1/signatures", json=body, headers={"Origin": CONSOLE}, timeout=5)
            assert r.status_code == 400, purpose
            assert http_error(r)["code"] == "VALIDATION_ERROR" and "purpose" in http_error(r)["details"]
        assert not server.signings and card.pins == []

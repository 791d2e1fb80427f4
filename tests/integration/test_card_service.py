"""The card service against the real RabbitMQ and SQLite, driven over HTTP through the real
gateway: stand-ins answer for identity (tokens from tests/tokens.py, holder check, card sessions) and
enterprise (memberships), and MemberRemoved events are put on `enterprise.events` directly.
Cards are signed in-process with keys from eport_card.devca (tests/card and the e2e tests
use the PC/SC chain)."""
import base64
import os
import subprocess
import sys
import uuid

import eventlet
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from kombu import Connection, Exchange, Producer, Queue

from contracts import enterprise as ent
from contracts.errors import ServiceError
from contracts.envelope import make_envelope
from contracts.subscriptions import exchange
from gateway.service import GatewayService
from eport_card.devca import CA_CERT_FILE, create_ca, issue_card, load_ca
from services.card.service import CardService
from services.card.trust import ensure_dev_ca
from services.common.dependency import EventSourced
from services.common.rpc import rpc
from tests.support import Http, free_port, own_vhost, wait_for, http_error, refusal
from tests.tokens import IdentityStandIn
from tests.support import signed

pytestmark = pytest.mark.integration

HOLDERS = {  # user_id -> (name, id_number) as registered
    "u-zhang": ("张三", "11010519491231002X"),
    "u-li": ("李四", "110105194912310029"),
}
ENTERPRISE, OTHER_ENTERPRISE = str(uuid.uuid4()), str(uuid.uuid4())
USCC = "91350100M000100Y43"


class StubIdentity(IdentityStandIn):
    locked = set()
    sessions = []

    @rpc
    def holder_matches(self, user_id, holder_name, holder_id_number):
        return HOLDERS.get(user_id) == (holder_name, holder_id_number)

    @rpc
    def start_card_session(self, user_id, card_no):
        if user_id in self.locked:
            raise ServiceError("ACCOUNT_LOCKED", "Locked.", {"retry_after": 900})
        self.sessions.append((user_id, card_no))
        return {"access_token": f"card-token-{user_id}", "token_type": "Bearer", "expires_in": 1800,
                "user_id": user_id}


class StubEnterprise:
    name = "enterprise"
    members = {}  # (user_id, enterprise_id) -> {association_id, role, status}

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def membership(self, user_id, enterprise_id):
        return self.members.get((user_id, enterprise_id))

    @rpc
    def certify_card(self, user_id, enterprise_id, association_id, card_no, card_type, uscc):
        """As the real one: a legal-person card bound by the administrator certifies the role."""
        m = self.members[(user_id, enterprise_id)]
        return {"certified": True, "role_certified": m["role"] == "admin" and card_type == "legal_person"}


@pytest.fixture(scope="module")
def card_amqp_uri():
    """A vhost of this module's own: the session-scoped e2e platform may be consuming the session's."""
    with own_vhost("eport-card") as uri:
        yield uri


def starter(container_factory, config, amqp_uri, fresh_var, monkeypatch):
    """start(): the card service, the gateway and the stand-ins on `fresh_var`, an Http to the gateway with
    `.app` (the service's application) and `.ca` (its development CA, made already: `start.ca`)."""
    monkeypatch.delenv("CARD_CA_CERT", raising=False)
    StubIdentity.locked.clear()
    StubIdentity.sessions.clear()
    StubEnterprise.members.clear()
    for user_id, enterprise_id, role in (("u-zhang", ENTERPRISE, "user"), ("u-zhang", OTHER_ENTERPRISE, "admin"),
                                         ("u-li", ENTERPRISE, "admin")):
        # One USCC for both: here a card may race into two associations (one card per association).
        StubEnterprise.members[(user_id, enterprise_id)] = {
            "association_id": f"assoc-{uuid.uuid4().hex[:8]}", "role": role, "status": "approved", "uscc": USCC}
    ca = load_ca(ensure_dev_ca(fresh_var / "card-ca"))  # the one the service finds at start

    def start():
        cfg = dict(config, AMQP_URI=amqp_uri, WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}")
        card = container_factory(CardService, cfg)
        for cls in (StubIdentity, StubEnterprise, GatewayService):
            container_factory(cls, cfg).start()
        card.start()
        http = Http(f"http://{cfg['WEB_SERVER_ADDRESS']}")
        http.amqp_uri = amqp_uri
        http.app = next(d for d in card.dependencies if isinstance(d, EventSourced)).app
        http.ca = ca
        return http

    start.ca = ca
    return start


@pytest.fixture
def platform(container_factory, config, card_amqp_uri, fresh_var, monkeypatch):
    return starter(container_factory, config, card_amqp_uri, fresh_var, monkeypatch)()


def new_card(ca, user_id="u-zhang", card_no="8800000012345", card_type="operator"):
    name, id_number = HOLDERS[user_id]
    return issue_card(ca, card_no=card_no, card_type=card_type, holder_name=name, holder_id_number=id_number,
                      uscc=USCC, pin_hash_iterations=1000)


def sign(card, nonce_b64):
    key = serialization.load_pem_private_key(card.private_key_pem.encode(), password=None)
    return base64.b64encode(key.sign(base64.b64decode(nonce_b64), ec.ECDSA(hashes.SHA256()))).decode()


def proof(http, card, purpose, who=None):
    r = http("POST", "/api/v1/card-challenges", who, json={"purpose": purpose, "card_no": card.card_no})
    assert r.status_code == 201, r.text
    challenge = r.json()
    body = {"challenge_id": challenge["challenge_id"], "certificate": card.certificate_pem,
            "signature": sign(card, challenge["nonce"])}
    return dict(body, card_no=card.card_no) if purpose == "bind" else body


def bind(http, card, who="u-zhang", enterprise_id=ENTERPRISE):
    return http("POST", f"/api/v1/enterprises/{enterprise_id}/card", who, json=proof(http, card, "bind", who))


def card_login(http, card):
    return http("POST", "/api/v1/sessions", json={"method": "card", **proof(http, card, "login")})


def test_challenges_over_http(platform):
    r = platform("POST", "/api/v1/card-challenges", json={"purpose": "login", "card_no": "8800000012345"})
    assert r.status_code == 201
    assert set(r.json()) == {"challenge_id", "nonce", "expires_in"} and r.json()["expires_in"] == 120
    assert len(base64.b64decode(r.json()["nonce"])) >= 32
    r = platform("POST", "/api/v1/card-challenges", json={"purpose": "bind", "card_no": "8800000012345"})
    assert refusal(r) == (401, "UNAUTHENTICATED")
    r = platform("POST", "/api/v1/card-challenges", "u-zhang", json={"purpose": "bind", "card_no": "8800000012345"})
    assert r.status_code == 201
    r = platform("POST", "/api/v1/card-challenges", json={"purpose": "pay", "card_no": "卡"})
    assert refusal(r) == (400, "VALIDATION_ERROR")
    assert set(http_error(r)["details"]) == {"purpose", "card_no"}


def test_bind_me_and_members_data_then_login_and_unbind(platform):
    card = new_card(platform.ca)
    r = bind(platform, card)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["card_no"], body["card_type"], body["warning"]) == (card.card_no, "operator", None)
    assert body["role_certified"] is False
    view = {k: body[k] for k in ("card_no", "card_type", "bound_at")}
    assert platform.app.cards_of_user("u-zhang") == {ENTERPRISE: view}
    assert platform.app.cards_of_enterprise(ENTERPRISE) == {"u-zhang": view}

    r = card_login(platform, card)
    assert r.status_code == 201, r.text
    assert r.json() == {"access_token": "card-token-u-zhang", "token_type": "Bearer", "expires_in": 1800,
                        "user_id": "u-zhang"}
    assert StubIdentity.sessions == [("u-zhang", card.card_no)]

    assert platform("DELETE", f"/api/v1/enterprises/{ENTERPRISE}/card", "u-zhang").status_code == 204
    r = platform("DELETE", f"/api/v1/enterprises/{ENTERPRISE}/card", "u-zhang")
    assert refusal(r) == (404, "CARD_NOT_BOUND")
    r = card_login(platform, card)
    assert refusal(r) == (401, "INVALID_CREDENTIALS")


def test_error_codes_over_http(platform):
    card = new_card(platform.ca)
    r = bind(platform, new_card(platform.ca, user_id="u-li"), who="u-zhang")
    assert refusal(r) == (422, "CARD_HOLDER_MISMATCH")
    assert "提示信息不符" in http_error(r)["message"]
    r = bind(platform, card, enterprise_id=str(uuid.uuid4()))
    assert refusal(r) == (403, "FORBIDDEN")
    r = bind(platform, new_card(create_ca("Another CA")))
    assert refusal(r) == (400, "CERTIFICATE_UNTRUSTED")
    forged = proof(platform, card, "bind", "u-zhang")
    forged["signature"] = sign(new_card(platform.ca), base64.b64encode(os.urandom(32)).decode())
    r = platform("POST", f"/api/v1/enterprises/{ENTERPRISE}/card", "u-zhang", json=forged)
    assert refusal(r) == (400, "CARD_SIGNATURE_INVALID")
    r = platform("POST", f"/api/v1/enterprises/{ENTERPRISE}/card", "u-zhang", json=forged)
    assert refusal(r) == (400, "CHALLENGE_INVALID")
    r = platform("POST", f"/api/v1/enterprises/{ENTERPRISE}/card", "u-zhang", json={"card_no": "1"})
    assert refusal(r) == (400, "VALIDATION_ERROR")
    assert set(http_error(r)["details"]) == {"challenge_id", "certificate", "signature"}
    r = platform("POST", f"/api/v1/enterprises/{ENTERPRISE}/card", json=forged)
    assert refusal(r) == (401, "UNAUTHENTICATED")

    assert bind(platform, card).status_code == 201
    r = bind(platform, card, enterprise_id=OTHER_ENTERPRISE)
    assert refusal(r) == (409, "CARD_ALREADY_BOUND")
    StubIdentity.locked.add("u-zhang")
    r = card_login(platform, card)
    assert refusal(r) == (423, "ACCOUNT_LOCKED")
    assert http_error(r)["details"] == {"retry_after": 900}


def test_admin_with_an_operator_card_is_warned(platform):
    r = bind(platform, new_card(platform.ca), enterprise_id=OTHER_ENTERPRISE)
    assert r.status_code == 201
    assert "法人卡" in r.json()["warning"]


def test_parallel_binds_of_one_card_exactly_one_wins(platform):
    card = new_card(platform.ca)
    bodies = [(enterprise_id, proof(platform, card, "bind", "u-zhang"))
              for enterprise_id in (ENTERPRISE, OTHER_ENTERPRISE) for _ in range(3)]

    def post(item):
        enterprise_id, body = item
        return Http(platform.base)("POST", f"/api/v1/enterprises/{enterprise_id}/card", "u-zhang", json=body)

    results = list(eventlet.GreenPool(6).imap(post, bodies))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201, 409, 409, 409, 409, 409], [r.text for r in results]
    assert all(http_error(r)["code"] == "CARD_ALREADY_BOUND" for r in results if r.status_code == 409)
    assert len(platform.app.cards_of_user("u-zhang")) == 1


def test_parallel_answers_to_one_login_challenge_exactly_one_logs_in(platform):
    card = new_card(platform.ca)
    assert bind(platform, card).status_code == 201
    body = {"method": "card", **proof(platform, card, "login")}

    def post(_):
        return Http(platform.base)("POST", "/api/v1/sessions", json=body)

    results = list(eventlet.GreenPool(6).imap(post, range(6)))
    assert sorted(r.status_code for r in results) == [201, 400, 400, 400, 400, 400], [r.text for r in results]
    assert all(http_error(r)["code"] == "CHALLENGE_INVALID" for r in results if r.status_code == 400)
    assert StubIdentity.sessions == [("u-zhang", card.card_no)]


def test_member_removed_on_the_bus_unbinds_and_card_events_are_published(platform):
    card = new_card(platform.ca)
    with Connection(platform.amqp_uri) as conn:
        # A queue of our own on card.events, to see what subscribers get.
        seen = Queue(f"test-card-events-{uuid.uuid4().hex[:6]}", exchange=Exchange("card.events", type="topic",
                                                                                     durable=True),
                     routing_key="#", auto_delete=True)
        seen(conn.channel()).declare()
        assert bind(platform, card).status_code == 201
        membership = StubEnterprise.members[("u-zhang", ENTERPRISE)]
        removed = make_envelope(ent.MEMBER_REMOVED, aggregate_id=str(uuid.uuid4()), aggregate_version=7,
                                occurred_at="2026-03-01T00:00:00+00:00", actor_user_id="u-li",
                                payload={"association_id": membership["association_id"],
                                         "enterprise_id": ENTERPRISE, "user_id": "u-zhang", "role": "user"})
        producer = Producer(conn.channel(), exchange=exchange(ent.SOURCE), serializer="json")
        for _ in range(2):  # delivered twice: handled once
            producer.publish(signed(removed), routing_key=removed["event_type"], delivery_mode=2)
        wait_for(lambda: platform.app.cards_of_user("u-zhang") == {}, what="MemberRemoved to unbind the card")

        got = []

        def drain():
            while True:
                message = seen(conn.channel()).get(no_ack=True)
                if message is None:
                    return [m["event_type"] for m in got]
                got.append(message.payload)

        wait_for(lambda: drain() == ["CardBound", "CardUnbound"], what="CardBound and CardUnbound on card.events")
        eventlet.sleep(0.5)
        assert drain() == ["CardBound", "CardUnbound"]
    bound, unbound = got
    assert bound["payload"] == {"enterprise_id": ENTERPRISE, "user_id": "u-zhang", "card_no": card.card_no,
                                "card_type": "operator", "bound_at": bound["payload"]["bound_at"], "role": "user",
                                "association_id": StubEnterprise.members[("u-zhang", ENTERPRISE)]["association_id"],
                                "uscc": USCC}
    assert unbound["payload"]["reason"] == "membership_ended" and unbound["actor_user_id"] == "u-li"
    assert HOLDERS["u-zhang"][1] not in str(got) and HOLDERS["u-zhang"][0] not in str(got)
    r = card_login(platform, card)
    assert refusal(r) == (401, "INVALID_CREDENTIALS")


def test_ca_file_is_the_default_trust_anchor(platform, fresh_var):
    assert (fresh_var / "card-ca" / CA_CERT_FILE).read_text() == platform.app.trust.pem()


def test_revoked_by_the_devca_command_a_bound_card_no_longer_logs_in(platform, fresh_var, tmp_path):
    card, spare = new_card(platform.ca), new_card(platform.ca, user_id="u-li", card_no="8800000054321")
    assert bind(platform, card).status_code == 201
    assert card_login(platform, card).status_code == 201
    for image in (card, spare):
        image.save(tmp_path / f"{image.card_no}.json")
        subprocess.run([sys.executable, "-m", "eport_card.devca", "revoke", "--ca", str(fresh_var / "card-ca"),
                        "--card", str(tmp_path / f"{image.card_no}.json")], check=True, capture_output=True,
                       timeout=60, env=dict(os.environ, EPORT_VAR=str(fresh_var)))
    r = card_login(platform, card)
    assert refusal(r) == (400, "CERTIFICATE_UNTRUSTED") and "revoked" in http_error(r)["message"]
    r = bind(platform, spare, who="u-li")
    assert refusal(r) == (400, "CERTIFICATE_UNTRUSTED")
    assert StubIdentity.sessions == [("u-zhang", card.card_no)]


def test_another_certificate_with_the_bound_card_number_does_not_log_in(platform):
    card, twin = new_card(platform.ca), new_card(platform.ca)  # one card number, two keys
    assert bind(platform, card).status_code == 201
    r = card_login(platform, twin)
    assert refusal(r) == (401, "INVALID_CREDENTIALS")
    assert card_login(platform, card).status_code == 201


SPELLINGS = (str.upper, lambda i: "{" + i + "}", lambda i: "urn:uuid:" + i, lambda i: i.replace("-", ""),
             lambda i: i + " ", lambda i: i[:-1] + "G")


def test_only_the_canonical_spelling_of_an_id_reaches_the_card_service(platform):
    card = new_card(platform.ca)
    for spelling in SPELLINGS:
        other = spelling(ENTERPRISE)
        r = bind(platform, card, enterprise_id=other)
        assert refusal(r) == (400, "VALIDATION_ERROR")
        assert "enterprise_id" in http_error(r)["details"]
        for method, path in (("GET", f"/api/v1/enterprises/{other}"), ("DELETE", f"/api/v1/enterprises/{other}/card")):
            r = platform(method, path, "u-zhang")
            assert refusal(r) == (400, "VALIDATION_ERROR"), (other, r.text)
    assert platform.app.cards_of_user("u-zhang") == {}  # nothing keyed under another spelling
    assert bind(platform, card).status_code == 201
    assert list(platform.app.cards_of_user("u-zhang")) == [ENTERPRISE]

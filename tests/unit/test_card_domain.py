"""Card binding rules on the in-memory store: challenges, certificate and signature checks, the
holder check, one card per association and one association per card, unbinding, MemberRemoved,
card login. Real certificates and signatures (eport_card.devca); the peer services are fakes."""
import base64
import threading
import uuid
from datetime import datetime, UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from contracts import errors as e
from contracts.card import CARD_BOUND, CARD_UNBOUND
from contracts.enterprise import MEMBER_REMOVED
from contracts.envelope import make_envelope
from contracts.errors import ServiceError
from gateway.errors import status_of
from services.card.application import CardApplication
from services.card.certs import CardCertificateError
from eport_card.devca import CA_CERT_FILE, CA_CRL_FILE, create_ca, issue_card, revoke, save_ca
from services.card.domain import HOLDER_MISMATCH_MESSAGE, card_type_warning
from services.card.integration import to_integration
from services.card.trust import RevocationList, TrustAnchor, ensure_dev_ca
from services.common.application import CONFLICT_TRIES
from tests.support import Clock

pytestmark = pytest.mark.unit

HOLDER = {"holder_name": "张三", "holder_id_number": "11010519491231002X"}
USCC = "91350100M000100Y43"


class Trust:
    def __init__(self, ca):
        self.ca = ca
        self.revoked = set()

    def pem(self):
        return self.ca.cert_pem

    def is_revoked(self, serial_number):
        return serial_number in self.revoked

    def check_fresh(self, now):
        """No list to go stale (tests/unit/test_card_revocation.py has real ones)."""

    def revocation_list(self):
        return None


class FakePeers:
    """enterprise.membership and identity.holder_matches / start_card_session from dicts."""

    def __init__(self):
        self.members = {}  # (user_id, enterprise_id) -> membership
        self.holders = {}  # user_id -> (name, id_number)
        self.sessions = []
        self.certified = []  # certify_card calls

    def add(self, user_id, enterprise_id, role="admin", status="approved", holder=HOLDER, uscc=None):
        uscc = uscc or USCC
        self.members[(user_id, enterprise_id)] = {"association_id": str(uuid.uuid4()), "role": role,
                                                  "status": status, "uscc": uscc}
        self.holders[user_id] = (holder["holder_name"], holder["holder_id_number"])
        return self.members[(user_id, enterprise_id)]

    def membership(self, user_id, enterprise_id):
        return self.members.get((user_id, enterprise_id))

    def holder_matches(self, user_id, holder_name, holder_id_number):
        return self.holders.get(user_id) == (holder_name, holder_id_number)

    def start_card_session(self, user_id, card_no):
        self.sessions.append((user_id, card_no))
        return {"access_token": f"token-{user_id}", "token_type": "Bearer", "expires_in": 3600, "user_id": user_id}

    def certify_card(self, user_id, enterprise_id, association_id, card_no, card_type, uscc):
        """As the enterprise service: a legal-person card bound by the administrator certifies the role."""
        membership = self.members[(user_id, enterprise_id)]
        assert (membership["association_id"], membership["uscc"]) == (association_id, uscc)
        self.certified.append((user_id, enterprise_id, card_no, card_type))
        return {"certified": True, "role_certified": membership["role"] == "admin" and card_type == "legal_person"}


@pytest.fixture(scope="module")
def ca():
    return create_ca(now=datetime(2025, 1, 1, tzinfo=UTC))


@pytest.fixture
def clock():
    return Clock(now=datetime(2026, 3, 1, tzinfo=UTC).timestamp())


@pytest.fixture
def app(monkeypatch, ca, clock):
    monkeypatch.setenv("EVENT_STORE", "memory")
    return CardApplication(clock=clock, trust=Trust(ca), ttl=120)


@pytest.fixture
def peers():
    return FakePeers()


def new_card(ca, card_no="8800000012345", card_type="operator", **overrides):
    fields = dict(HOLDER, uscc=USCC, not_before=datetime(2025, 6, 1, tzinfo=UTC), days=730)
    fields.update(overrides)
    return issue_card(ca, card_no=card_no, card_type=card_type, pin_hash_iterations=1000, **fields)


def sign(card, nonce_b64):
    key = serialization.load_pem_private_key(card.private_key_pem.encode(), password=None)
    return base64.b64encode(key.sign(base64.b64decode(nonce_b64), ec.ECDSA(hashes.SHA256()))).decode()


def bind(app, peers, user_id, enterprise_id, card, **overrides):
    challenge = app.create_challenge("bind", card.card_no, user_id)
    args = dict(card_no=card.card_no, challenge_id=challenge["challenge_id"],
                certificate_pem=card.certificate_pem, signature_b64=sign(card, challenge["nonce"]))
    args.update(overrides)
    return app.bind(peers, user_id, enterprise_id, **args)


def login(app, peers, card):
    challenge = app.create_challenge("login", card.card_no)
    return app.login(peers, challenge["challenge_id"], card.certificate_pem, sign(card, challenge["nonce"]))


def published(app):
    """The integration events the relay would publish from everything recorded so far."""
    envelopes, start = [], 1
    while True:
        section = app.notification_log.select(start=start, limit=10)
        envelopes += [env for n in section for env in to_integration(app.mapper.to_domain_event(n))]
        if len(section) < 10:
            return envelopes
        start = section[-1].id + 1


def code_of(excinfo):
    assert isinstance(excinfo.value, ServiceError)
    return excinfo.value.code


def test_challenge_has_32_random_bytes_and_two_minutes(app):
    one = app.create_challenge("login", "8800000012345")
    two = app.create_challenge("login", "8800000012345")
    assert len(base64.b64decode(one["nonce"])) == 32
    assert one["nonce"] != two["nonce"] and one["challenge_id"] != two["challenge_id"]
    assert one["expires_in"] == 120


def test_bind_challenge_needs_an_account_and_input_is_checked(app):
    with pytest.raises(ServiceError) as exc:
        app.create_challenge("bind", "8800000012345")
    assert code_of(exc) == e.UNAUTHENTICATED
    with pytest.raises(ServiceError) as exc:
        app.create_challenge("open", "8800000012345 ", "u1")
    assert code_of(exc) == e.VALIDATION_ERROR and "purpose" in exc.value.details
    with pytest.raises(ServiceError) as exc:
        app.create_challenge("login", "88 00")
    assert exc.value.details.keys() == {"card_no"}


def test_bind_then_query_and_the_bound_event(app, peers, ca):
    peers.add("u1", "e1", role="user")
    card = new_card(ca)
    bound = bind(app, peers, "u1", "e1", card)
    assert bound == {"card_no": card.card_no, "card_type": "operator", "bound_at": bound["bound_at"], "warning": None,
                     "role_certified": False}
    assert datetime.fromisoformat(bound["bound_at"]).tzinfo is not None
    view = {"card_no": card.card_no, "card_type": "operator", "bound_at": bound["bound_at"]}
    assert app.cards_of_user("u1") == {"e1": view}
    assert app.cards_of_enterprise("e1") == {"u1": view}
    assert app.cards_of_user("u2") == {} and app.cards_of_enterprise("e2") == {}

    envelopes = published(app)
    assert [env["event_type"] for env in envelopes] == [CARD_BOUND.name]
    payload = envelopes[0]["payload"]
    assert payload == {"enterprise_id": "e1", "user_id": "u1", "card_no": card.card_no,
                       "card_type": "operator", "bound_at": bound["bound_at"], "role": "user", "uscc": USCC,
                       "association_id": peers.members[("u1", "e1")]["association_id"]}
    assert envelopes[0]["actor_user_id"] == "u1"
    assert HOLDER["holder_id_number"] not in str(envelopes) and HOLDER["holder_name"] not in str(envelopes)


@pytest.mark.parametrize("role,card_type,advice", [
    ("admin", "operator", "法人卡"), ("user", "legal_person", "操作员卡"),
    ("admin", "legal_person", None), ("user", "operator", None)])
def test_card_type_against_role_only_warns(app, peers, ca, role, card_type, advice):
    peers.add("u1", "e1", role=role)
    bound = bind(app, peers, "u1", "e1", new_card(ca, card_type=card_type))
    assert bound["card_type"] == card_type
    if advice is None:
        assert bound["warning"] is None
    else:
        assert advice in bound["warning"] and bound["warning"] == card_type_warning(role, card_type)


def test_holder_must_be_the_registrant(app, peers, ca):
    peers.add("u1", "e1", holder={"holder_name": "李四", "holder_id_number": "110105194912310029"})
    with pytest.raises(ServiceError) as exc:
        bind(app, peers, "u1", "e1", new_card(ca))
    assert code_of(exc) == e.CARD_HOLDER_MISMATCH
    assert exc.value.message == HOLDER_MISMATCH_MESSAGE and "提示信息不符" in exc.value.message
    assert app.cards_of_user("u1") == {}


def test_a_card_binds_only_within_the_enterprise_it_was_issued_to(app, peers, ca):
    peers.add("u1", "e1", uscc="91330000MA2KXXXX0A")  # e1 is not the enterprise on the card
    with pytest.raises(ServiceError) as exc:
        bind(app, peers, "u1", "e1", new_card(ca))
    assert code_of(exc) == e.CARD_ENTERPRISE_MISMATCH and "card" in exc.value.details
    assert app.cards_of_user("u1") == {} and published(app) == []
    peers.add("u1", "e2")  # the card's own enterprise (USCC)
    assert bind(app, peers, "u1", "e2", new_card(ca))["card_type"] == "operator"


@pytest.mark.parametrize("status", ["pending", "rejected", "removed", None])
def test_only_approved_members_bind(app, peers, ca, status):
    if status is not None:
        peers.add("u1", "e1", status=status)
    card = new_card(ca)
    challenge = app.create_challenge("bind", card.card_no, "u1")
    with pytest.raises(ServiceError) as exc:
        app.bind(peers, "u1", "e1", card.card_no, challenge["challenge_id"], card.certificate_pem,
                 sign(card, challenge["nonce"]))
    assert code_of(exc) == e.FORBIDDEN


def test_challenge_is_single_use(app, peers, ca):
    peers.add("u1", "e1")
    card = new_card(ca)
    challenge = app.create_challenge("bind", card.card_no, "u1")
    proof = (card.card_no, challenge["challenge_id"], card.certificate_pem, sign(card, challenge["nonce"]))
    app.bind(peers, "u1", "e1", *proof)
    app.unbind("u1", "e1")
    with pytest.raises(ServiceError) as exc:
        app.bind(peers, "u1", "e1", *proof)
    assert code_of(exc) == e.CHALLENGE_INVALID
    assert app.cards_of_user("u1") == {}


def test_a_failed_attempt_spends_the_challenge_too(app, peers, ca):
    peers.add("u1", "e1")
    card = new_card(ca)
    challenge = app.create_challenge("bind", card.card_no, "u1")
    with pytest.raises(ServiceError) as exc:
        app.bind(peers, "u1", "e1", card.card_no, challenge["challenge_id"], card.certificate_pem,
                 sign(card, base64.b64encode(b"something else").decode()))
    assert code_of(exc) == e.CARD_SIGNATURE_INVALID
    with pytest.raises(ServiceError) as exc:
        app.bind(peers, "u1", "e1", card.card_no, challenge["challenge_id"], card.certificate_pem,
                 sign(card, challenge["nonce"]))
    assert code_of(exc) == e.CHALLENGE_INVALID


def test_challenge_expires(app, peers, ca, clock):
    peers.add("u1", "e1")
    card = new_card(ca)
    challenge = app.create_challenge("bind", card.card_no, "u1")
    clock.now += 120
    with pytest.raises(ServiceError) as exc:
        app.bind(peers, "u1", "e1", card.card_no, challenge["challenge_id"], card.certificate_pem,
                 sign(card, challenge["nonce"]))
    assert code_of(exc) == e.CHALLENGE_INVALID and "expired" in exc.value.message


def test_challenge_is_bound_to_purpose_card_and_user(app, peers, ca):
    peers.add("u1", "e1")
    peers.add("u2", "e1")
    card, other = new_card(ca), new_card(ca, card_no="8800000099999")

    def attempt(challenge, user_id="u1", card_no=card.card_no):
        return app.bind(peers, user_id, "e1", card_no, challenge["challenge_id"], card.certificate_pem,
                        sign(card, challenge["nonce"]))

    login_challenge = app.create_challenge("login", card.card_no)
    for challenge, kwargs in [
        (login_challenge, {}),                                             # wrong purpose
        (app.create_challenge("bind", card.card_no, "u2"), {}),            # issued to another user
        (app.create_challenge("bind", other.card_no, "u1"), {}),           # for another card
        (app.create_challenge("bind", card.card_no, "u1"), {"card_no": other.card_no}),  # body names another
        ({"challenge_id": str(uuid.uuid4()), "nonce": "AAAA"}, {}),        # unknown
        ({"challenge_id": "not-a-uuid", "nonce": "AAAA"}, {}),
    ]:
        with pytest.raises(ServiceError) as exc:
            attempt(challenge, **kwargs)
        assert code_of(exc) == e.CHALLENGE_INVALID, (challenge, kwargs, exc.value)
    assert app.cards_of_user("u1") == {}
    # Refused challenges were left unspent: the login challenge is still good for a login (which
    # then fails only because the card is bound to nobody).
    with pytest.raises(ServiceError) as exc:
        app.login(peers, login_challenge["challenge_id"], card.certificate_pem, sign(card, login_challenge["nonce"]))
    assert code_of(exc) == e.INVALID_CREDENTIALS


def test_certificate_from_another_ca_or_expired_is_untrusted(app, peers, ca, clock):
    peers.add("u1", "e1")
    stranger = new_card(create_ca("Another CA"))
    with pytest.raises(ServiceError) as exc:
        bind(app, peers, "u1", "e1", stranger)
    assert code_of(exc) == e.CERTIFICATE_UNTRUSTED
    expired = new_card(ca, not_before=datetime(2025, 1, 2, tzinfo=UTC), days=30)
    with pytest.raises(ServiceError) as exc:
        bind(app, peers, "u1", "e1", expired)
    assert code_of(exc) == e.CERTIFICATE_UNTRUSTED and "not valid now" in exc.value.message
    with pytest.raises(ServiceError) as exc:  # the CA certificate itself is no card
        bind(app, peers, "u1", "e1", new_card(ca), certificate_pem=ca.cert_pem)
    assert code_of(exc) == e.CERTIFICATE_UNTRUSTED


def test_certificate_of_another_card_than_the_challenge(app, peers, ca):
    peers.add("u1", "e1")
    card, other = new_card(ca), new_card(ca, card_no="8800000099999")
    challenge = app.create_challenge("bind", card.card_no, "u1")
    with pytest.raises(ServiceError) as exc:
        app.bind(peers, "u1", "e1", card.card_no, challenge["challenge_id"], other.certificate_pem,
                 sign(other, challenge["nonce"]))
    assert code_of(exc) == e.CHALLENGE_INVALID


def test_signature_by_another_key_is_refused(app, peers, ca):
    peers.add("u1", "e1")
    card = new_card(ca)
    impostor = new_card(ca)  # same card number and holder, other key: the certificate is not its own
    challenge = app.create_challenge("bind", card.card_no, "u1")
    with pytest.raises(ServiceError) as exc:
        app.bind(peers, "u1", "e1", card.card_no, challenge["challenge_id"], card.certificate_pem,
                 sign(impostor, challenge["nonce"]))
    assert code_of(exc) == e.CARD_SIGNATURE_INVALID


def test_bad_input_is_a_validation_error_and_spends_nothing(app, peers, ca):
    peers.add("u1", "e1")
    card = new_card(ca)
    challenge = app.create_challenge("bind", card.card_no, "u1")
    good = dict(card_no=card.card_no, challenge_id=challenge["challenge_id"], certificate_pem=card.certificate_pem,
                signature_b64=sign(card, challenge["nonce"]))
    for field, value in [("certificate_pem", "-----BEGIN CERTIFICATE-----\nxx"), ("signature_b64", "%%%"),
                         ("signature_b64", ""), ("card_no", None), ("challenge_id", "x" * 500),
                         ("certificate_pem", "x" * 20000)]:
        with pytest.raises(ServiceError) as exc:
            app.bind(peers, "u1", "e1", **dict(good, **{field: value}))
        assert code_of(exc) == e.VALIDATION_ERROR, (field, value)
    assert app.bind(peers, "u1", "e1", **good)["card_no"] == card.card_no


def test_a_block_of_a_certificate_s_shape_that_is_none_is_untrusted_not_invalid(app, peers, ca):
    """What the OpenAPI pattern calls valid passes the input check (a fuzzer's valid values are valid);
    that it is no certificate of the e-port CA is the business answer."""
    peers.add("u1", "e1")
    card = new_card(ca)
    challenge = app.create_challenge("bind", card.card_no, "u1")
    shaped = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
    with pytest.raises(ServiceError) as exc:
        app.bind(peers, "u1", "e1", card_no=card.card_no, challenge_id=challenge["challenge_id"],
                 certificate_pem=shaped, signature_b64=sign(card, challenge["nonce"]))
    assert code_of(exc) == e.CERTIFICATE_UNTRUSTED


def test_one_account_per_card_and_one_card_per_association(app, peers, ca):
    peers.add("u1", "e1")
    peers.add("u1", "e2")
    peers.add("u2", "e1", holder={"holder_name": "李四", "holder_id_number": "110105194912310029"})
    card = new_card(ca)
    bind(app, peers, "u1", "e1", card)
    for user_id, enterprise_id in (("u1", "e1"), ("u1", "e2"), ("u2", "e1")):
        with pytest.raises(ServiceError) as exc:
            bind(app, peers, user_id, enterprise_id, card)
        assert code_of(exc) == e.CARD_ALREADY_BOUND
        assert exc.value.details.keys() == {"card_no"}
    with pytest.raises(ServiceError) as exc:  # a second card for the same association
        bind(app, peers, "u1", "e1", new_card(ca, card_no="8800000099999"))
    assert code_of(exc) == e.CARD_ALREADY_BOUND and exc.value.details.keys() == {"enterprise_id"}
    app.unbind("u1", "e1")
    assert bind(app, peers, "u1", "e2", card)["card_no"] == card.card_no
    assert app.cards_of_user("u1") == {"e2": app.cards_of_user("u1")["e2"]}


def test_unbind_then_login_fails(app, peers, ca):
    peers.add("u1", "e1")
    card = new_card(ca)
    bind(app, peers, "u1", "e1", card)
    assert login(app, peers, card)["user_id"] == "u1"
    app.unbind("u1", "e1")
    assert app.cards_of_enterprise("e1") == {}
    with pytest.raises(ServiceError) as exc:
        login(app, peers, card)
    assert code_of(exc) == e.INVALID_CREDENTIALS
    with pytest.raises(ServiceError) as exc:
        app.unbind("u1", "e1")
    assert code_of(exc) == e.CARD_NOT_BOUND
    with pytest.raises(ServiceError) as exc:
        app.unbind("u1", "never-bound")
    assert code_of(exc) == e.CARD_NOT_BOUND
    assert peers.sessions == [("u1", card.card_no)]


def test_login_challenge_checks(app, peers, ca):
    peers.add("u1", "e1")
    card = new_card(ca)
    bind(app, peers, "u1", "e1", card)
    bind_challenge = app.create_challenge("bind", card.card_no, "u1")
    with pytest.raises(ServiceError) as exc:
        app.login(peers, bind_challenge["challenge_id"], card.certificate_pem, sign(card, bind_challenge["nonce"]))
    assert code_of(exc) == e.CHALLENGE_INVALID
    challenge = app.create_challenge("login", card.card_no)
    proof = (challenge["challenge_id"], card.certificate_pem, sign(card, challenge["nonce"]))
    assert app.login(peers, *proof)["access_token"] == "token-u1"
    with pytest.raises(ServiceError) as exc:
        app.login(peers, *proof)
    assert code_of(exc) == e.CHALLENGE_INVALID


def stored(app):
    return app.recorder.max_notification_id() or 0


def test_asking_for_a_login_challenge_stores_nothing(app, peers, ca):
    before = stored(app)
    for _ in range(50):  # anonymous: however many are asked for, nothing is written
        app.create_challenge("login", "8800000012345")
    assert stored(app) == before
    peers.add("u1", "e1")
    card = new_card(ca)
    bind(app, peers, "u1", "e1", card)
    before = stored(app)
    assert login(app, peers, card)["user_id"] == "u1"
    assert stored(app) == before + 1  # only a card's valid answer writes: the challenge is spent


def test_a_login_challenge_expires_and_answers_only_for_its_card(app, peers, ca, clock):
    peers.add("u1", "e1")
    card, other = new_card(ca), new_card(ca, card_no="8800000099999")
    bind(app, peers, "u1", "e1", card)

    def answer(challenge, with_card=card):
        return app.login(peers, challenge["challenge_id"], with_card.certificate_pem,
                         sign(with_card, challenge["nonce"]))

    late = app.create_challenge("login", card.card_no)
    clock.now += 120
    with pytest.raises(ServiceError) as exc:
        answer(late)
    assert code_of(exc) == e.CHALLENGE_INVALID and "expired" in exc.value.message
    with pytest.raises(ServiceError) as exc:  # asked for one card, answered by another
        answer(app.create_challenge("login", card.card_no), with_card=other)
    assert code_of(exc) == e.CARD_SIGNATURE_INVALID
    challenge = app.create_challenge("login", card.card_no)
    version, expires_ms, random_part = challenge["challenge_id"].split(".")
    longer = dict(challenge, challenge_id=f"{version}.{int(expires_ms) + 3_600_000}.{random_part}")
    with pytest.raises(ServiceError) as exc:  # a lifetime made longer by hand is another challenge
        answer(longer)
    assert code_of(exc) == e.CARD_SIGNATURE_INVALID
    for forged in ("L1", "L1.x.y", "L2.99999999999999.abc", "", "L1.99999999999999."):
        with pytest.raises(ServiceError) as exc:
            answer(dict(challenge, challenge_id=forged))
        assert code_of(exc) in (e.CHALLENGE_INVALID, e.VALIDATION_ERROR), forged
    assert answer(challenge)["user_id"] == "u1"  # the untouched one still works, once


def test_login_refused_when_the_membership_ended(app, peers, ca):
    peers.add("u1", "e1")
    card = new_card(ca)
    bind(app, peers, "u1", "e1", card)
    peers.members[("u1", "e1")]["status"] = "removed"
    with pytest.raises(ServiceError) as exc:
        login(app, peers, card)
    assert code_of(exc) == e.INVALID_CREDENTIALS


def _member_removed(membership, user_id="u1", enterprise_id="e1", version=3):
    return make_envelope(MEMBER_REMOVED, aggregate_id=membership["association_id"], aggregate_version=version,
                         occurred_at="2026-03-01T00:00:00+00:00", actor_user_id="admin",
                         payload={"association_id": membership["association_id"], "enterprise_id": enterprise_id,
                                  "user_id": user_id, "role": "user"})


def test_member_removed_unbinds_once_and_only_that_association(app, peers, ca):
    membership = peers.add("u1", "e1", role="user")
    card = new_card(ca)
    bind(app, peers, "u1", "e1", card)
    event = _member_removed(membership)
    assert app.learn(event) is True
    assert app.cards_of_user("u1") == {}
    assert app.learn(event) is False  # a redelivery changes nothing

    # Back in the enterprise with a new association and the card bound again: the old event,
    # delivered late once more, must not unbind it.
    peers.add("u1", "e1", role="user")
    bind(app, peers, "u1", "e1", card)
    assert app.learn(_member_removed(membership, version=4)) is False
    assert app.cards_of_user("u1")["e1"]["card_no"] == card.card_no

    kinds = [env["event_type"] for env in published(app)]
    assert kinds == [CARD_BOUND.name, CARD_UNBOUND.name, CARD_BOUND.name]


def test_member_removed_without_a_card_is_recorded(app, peers):
    membership = peers.add("u1", "e1")
    event = _member_removed(membership)
    assert app.learn(event) is False
    assert app.is_processed("card", event["event_id"])
    assert app.learn(dict(event, event_type="AssociationApproved")) is False


def test_dev_ca_is_created_once(tmp_path):
    first = ensure_dev_ca(tmp_path / "card-ca")
    pem = (first / "ca-cert.pem").read_text()
    assert ensure_dev_ca(tmp_path / "card-ca") == first
    assert (first / "ca-cert.pem").read_text() == pem
    assert oct((first / "ca-key.pem").stat().st_mode & 0o777) == "0o600"


def test_default_trust_anchor_is_the_dev_ca_under_var(monkeypatch, tmp_path):
    monkeypatch.setenv("EVENT_STORE", "memory")
    monkeypatch.setenv("EPORT_VAR", str(tmp_path))
    monkeypatch.delenv("CARD_CA_CERT", raising=False)
    monkeypatch.setenv("CARD_CHALLENGE_TTL", "7")
    app = CardApplication()
    assert app.trust.pem() == (tmp_path / "card-ca" / "ca-cert.pem").read_text()
    assert app.create_challenge("login", "1")["expires_in"] == 7
    other = create_ca("Production CA")
    path = tmp_path / "prod-ca.pem"
    path.write_text(other.cert_pem)
    monkeypatch.setenv("CARD_CA_CERT", str(path))
    assert CardApplication().trust.pem() == other.cert_pem
    monkeypatch.setenv("CARD_CA_CERT", str(tmp_path / "missing.pem"))
    with pytest.raises(FileNotFoundError):
        CardApplication()


def test_expired_ca_is_refused_too(monkeypatch, peers, clock):
    monkeypatch.setenv("EVENT_STORE", "memory")
    old_ca = create_ca(now=datetime(2020, 1, 1, tzinfo=UTC), days=365)
    app = CardApplication(clock=clock, trust=Trust(old_ca), ttl=120)
    peers.add("u1", "e1")
    card = new_card(old_ca, not_before=datetime(2020, 2, 1, tzinfo=UTC), days=3650)
    with pytest.raises(ServiceError) as exc:
        bind(app, peers, "u1", "e1", card)
    assert code_of(exc) == e.CERTIFICATE_UNTRUSTED


def test_a_bind_that_loses_the_race_is_told_the_card_is_taken(app, peers, ca, monkeypatch):
    """The other bind saved between this one's loading and saving: this save conflicts on the
    card index, and deciding again from what is stored it gets 409 (nothing half-saved)."""
    peers.add("u1", "e1")
    peers.add("u1", "e2")
    card = new_card(ca)
    save = app.save
    conflicts = []

    def other_bind_saves_first(*aggregates, **kwargs):
        if not conflicts and any(getattr(a, "enterprise_id", None) == "e2" for a in aggregates):
            conflicts.append(True)
            monkeypatch.setattr(app, "save", save)
            bind(app, peers, "u1", "e1", card)
        try:
            return save(*aggregates, **kwargs)
        except Exception as exc:
            conflicts.append(type(exc).__name__)
            raise

    monkeypatch.setattr(app, "save", other_bind_saves_first)
    with pytest.raises(ServiceError) as exc:
        bind(app, peers, "u1", "e2", card)
    assert code_of(exc) == e.CARD_ALREADY_BOUND
    assert conflicts == [True, "IntegrityError"]
    assert list(app.cards_of_user("u1")) == ["e1"]
    assert [env["event_type"] for env in published(app)] == [CARD_BOUND.name]


def test_a_bind_that_keeps_losing_to_other_writers_answers_409_conflict(app, peers, ca, monkeypatch):
    """Every save of the bind loses to another writer of the user's binding list (each round a
    real version conflict): after the tries it answers 409 CONFLICT, not IntegrityError (a 500),
    and nothing of it is stored."""
    peers.add("u1", "e1")
    card = new_card(ca)
    save, rivals = app.save, []

    def another_writer_saves_first(*aggregates, **kwargs):
        if any(getattr(a, "key", None) == "user:u1" for a in aggregates):
            rival = app._list("user:u1")
            rival.add_once(f"elsewhere-{len(rivals)}")
            save(rival)
            rivals.append(rival.version)
        return save(*aggregates, **kwargs)

    monkeypatch.setattr(app, "save", another_writer_saves_first)
    with pytest.raises(ServiceError) as exc:
        bind(app, peers, "u1", "e1", card)
    assert code_of(exc) == e.CONFLICT
    assert status_of(code_of(exc)) == 409
    assert len(rivals) == CONFLICT_TRIES
    assert "e1" not in app.cards_of_user("u1")
    assert published(app) == []


def code_of_call(fn, *args):
    with pytest.raises(ServiceError) as exc:
        fn(*args)
    return code_of(exc)


def serial_of(card):
    return x509.load_pem_x509_certificate(card.certificate_pem.encode()).serial_number


@pytest.fixture
def ca_dir(ca, tmp_path):
    save_ca(ca, tmp_path / "ca")
    return tmp_path / "ca"


def test_a_revoked_card_can_neither_bind_nor_log_in(monkeypatch, ca, ca_dir, peers, clock):
    monkeypatch.setenv("EVENT_STORE", "memory")
    # The development CA's own list, written by `devca revoke` once the service runs.
    trust = TrustAnchor(ca_dir / CA_CERT_FILE, ca_dir / CA_CRL_FILE, crl_required=False)
    app = CardApplication(clock=clock, trust=trust, ttl=120)
    peers.add("u1", "e1")
    peers.add("u2", "e2", holder={"holder_name": "李四", "holder_id_number": "110105194912310029"})
    bound, unbound = new_card(ca), new_card(ca, card_no="8800000054321", holder_name="李四",
                                            holder_id_number="110105194912310029")
    bind(app, peers, "u1", "e1", bound)
    assert login(app, peers, bound)["user_id"] == "u1"
    for card in (bound, unbound):
        revoke(ca, serial_of(card), ca_dir / CA_CRL_FILE)
    assert code_of_call(login, app, peers, bound) == e.CERTIFICATE_UNTRUSTED
    assert code_of_call(bind, app, peers, "u2", "e2", unbound) == e.CERTIFICATE_UNTRUSTED
    assert app.cards_of_user("u2") == {} and peers.sessions == [("u1", bound.card_no)]


class CrlServer(BaseHTTPRequestHandler):
    crl = b""
    fetches = 0

    def do_GET(self):
        type(self).fetches += 1
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.crl)))
        self.end_headers()
        self.wfile.write(self.crl)

    def log_message(self, *args):
        pass


def test_a_crl_url_is_fetched_again_every_refresh_and_a_bad_one_keeps_the_last(ca, ca_dir, tmp_path, caplog):
    card, other = new_card(ca), new_card(ca, card_no="8800000054321")
    crl_file = tmp_path / "published.pem"
    revoke(ca, serial_of(card), crl_file)
    CrlServer.crl, CrlServer.fetches = crl_file.read_bytes(), 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), CrlServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    now = [0.0]
    try:
        crl = RevocationList(f"http://127.0.0.1:{server.server_port}/ca.crl", TrustAnchor(ca_dir / CA_CERT_FILE),
                             refresh=300, clock=lambda: now[0])
        assert crl.is_revoked(serial_of(card)) and not crl.is_revoked(serial_of(other))
        revoke(ca, serial_of(other), crl_file)
        CrlServer.crl = crl_file.read_bytes()
        now[0] = 299
        assert not crl.is_revoked(serial_of(other)) and CrlServer.fetches == 1  # not yet fetched again
        now[0] = 300
        assert crl.is_revoked(serial_of(other)) and CrlServer.fetches == 2
        CrlServer.crl = b"not a CRL"  # a broken list: the last good one stays in force
        now[0] = 600
        assert crl.is_revoked(serial_of(other)) and CrlServer.fetches == 3
        assert "could not be re-read" in caplog.text
    finally:
        server.shutdown()
        server.server_close()


def test_a_configured_crl_must_be_there_at_start(ca_dir, tmp_path):
    with pytest.raises(FileNotFoundError):
        TrustAnchor(ca_dir / CA_CERT_FILE, tmp_path / "missing.pem")
    revoke(create_ca("Another CA"), 1, tmp_path / "foreign.pem")
    with pytest.raises(CardCertificateError):  # signed by another CA
        TrustAnchor(ca_dir / CA_CERT_FILE, tmp_path / "foreign.pem")


def test_card_login_takes_only_the_certificate_pinned_at_bind(app, peers, ca):
    peers.add("u1", "e1")
    card = new_card(ca)
    bind(app, peers, "u1", "e1", card)
    # Another certificate of the same CA naming the same card number and holder, with its own key.
    twin = new_card(ca)
    assert twin.card_no == card.card_no and twin.certificate_pem != card.certificate_pem
    assert code_of_call(login, app, peers, twin) == e.INVALID_CREDENTIALS
    assert login(app, peers, card)["user_id"] == "u1"
    app.unbind("u1", "e1")
    bind(app, peers, "u1", "e1", twin)  # bound again: now the other one is the card
    assert login(app, peers, twin)["user_id"] == "u1"
    assert code_of_call(login, app, peers, card) == e.INVALID_CREDENTIALS

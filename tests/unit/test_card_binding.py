"""Card binding and card login on the in-memory store: certificate and signature checks, the holder
check, one card per association and one association per card, unbinding, MemberRemoved, the races
with other writers, login with the pinned certificate. Real certificates and signatures
(eport_card.devca); the peer services are tests/peers.py's fake."""
from datetime import datetime, UTC

import pytest

from contracts import errors as e
from contracts.card import CARD_BOUND, CARD_UNBOUND
from contracts.enterprise import MEMBER_REMOVED
from contracts.envelope import make_envelope
from contracts.errors import ServiceError
from gateway.errors import status_of
from eport_card.devca import create_ca
from services.card.domain import HOLDER_MISMATCH_MESSAGE, card_type_warning
from services.common.application import CONFLICT_TRIES
from tests import card_support as cards
from tests.card_support import HOLDER, USCC, bind, login, new_card, published, sign
from tests.support import raises_code

pytestmark = pytest.mark.unit
# the card suite's fixtures
ca, ca_dir, clock, app, peers = cards.ca, cards.ca_dir, cards.clock, cards.app, cards.peers


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
    assert exc.value.code == e.CARD_HOLDER_MISMATCH
    assert exc.value.message == HOLDER_MISMATCH_MESSAGE and "提示信息不符" in exc.value.message
    assert app.cards_of_user("u1") == {}


def test_a_card_binds_only_within_the_enterprise_it_was_issued_to(app, peers, ca):
    peers.add("u1", "e1", uscc="91330000MA2KXXXX0A")  # e1 is not the enterprise on the card
    with pytest.raises(ServiceError) as exc:
        bind(app, peers, "u1", "e1", new_card(ca))
    assert exc.value.code == e.CARD_ENTERPRISE_MISMATCH and "card" in exc.value.details
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
    assert exc.value.code == e.FORBIDDEN


def test_certificate_from_another_ca_or_expired_is_untrusted(app, peers, ca, clock):
    peers.add("u1", "e1")
    stranger = new_card(create_ca("Another CA"))
    with pytest.raises(ServiceError) as exc:
        bind(app, peers, "u1", "e1", stranger)
    assert exc.value.code == e.CERTIFICATE_UNTRUSTED
    expired = new_card(ca, not_before=datetime(2025, 1, 2, tzinfo=UTC), days=30)
    with pytest.raises(ServiceError) as exc:
        bind(app, peers, "u1", "e1", expired)
    assert exc.value.code == e.CERTIFICATE_UNTRUSTED and "not valid now" in exc.value.message
    with pytest.raises(ServiceError) as exc:  # the CA certificate itself is no card
        bind(app, peers, "u1", "e1", new_card(ca), certificate_pem=ca.cert_pem)
    assert exc.value.code == e.CERTIFICATE_UNTRUSTED


def test_certificate_of_another_card_than_the_challenge(app, peers, ca):
    peers.add("u1", "e1")
    card, other = new_card(ca), new_card(ca, card_no="8800000099999")
    challenge = app.create_challenge("bind", card.card_no, "u1")
    with pytest.raises(ServiceError) as exc:
        app.bind(peers, "u1", "e1", card.card_no, challenge["challenge_id"], other.certificate_pem,
                 sign(other, challenge["nonce"]))
    assert exc.value.code == e.CHALLENGE_INVALID


def test_signature_by_another_key_is_refused(app, peers, ca):
    peers.add("u1", "e1")
    card = new_card(ca)
    impostor = new_card(ca)  # same card number and holder, other key: the certificate is not its own
    challenge = app.create_challenge("bind", card.card_no, "u1")
    with pytest.raises(ServiceError) as exc:
        app.bind(peers, "u1", "e1", card.card_no, challenge["challenge_id"], card.certificate_pem,
                 sign(impostor, challenge["nonce"]))
    assert exc.value.code == e.CARD_SIGNATURE_INVALID


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
        assert exc.value.code == e.VALIDATION_ERROR, (field, value)
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
    assert exc.value.code == e.CERTIFICATE_UNTRUSTED


def test_one_account_per_card_and_one_card_per_association(app, peers, ca):
    peers.add("u1", "e1")
    peers.add("u1", "e2")
    peers.add("u2", "e1", holder={"holder_name": "李四", "holder_id_number": "110105194912310029"})
    card = new_card(ca)
    bind(app, peers, "u1", "e1", card)
    for user_id, enterprise_id in (("u1", "e1"), ("u1", "e2"), ("u2", "e1")):
        with pytest.raises(ServiceError) as exc:
            bind(app, peers, user_id, enterprise_id, card)
        assert exc.value.code == e.CARD_ALREADY_BOUND
        assert exc.value.details.keys() == {"card_no"}
    with pytest.raises(ServiceError) as exc:  # a second card for the same association
        bind(app, peers, "u1", "e1", new_card(ca, card_no="8800000099999"))
    assert exc.value.code == e.CARD_ALREADY_BOUND and exc.value.details.keys() == {"enterprise_id"}
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
    assert exc.value.code == e.INVALID_CREDENTIALS
    with pytest.raises(ServiceError) as exc:
        app.unbind("u1", "e1")
    assert exc.value.code == e.CARD_NOT_BOUND
    with pytest.raises(ServiceError) as exc:
        app.unbind("u1", "never-bound")
    assert exc.value.code == e.CARD_NOT_BOUND
    assert peers.sessions == [("u1", card.card_no)]


def test_login_refused_when_the_membership_ended(app, peers, ca):
    peers.add("u1", "e1")
    card = new_card(ca)
    bind(app, peers, "u1", "e1", card)
    peers.members[("u1", "e1")]["status"] = "removed"
    with pytest.raises(ServiceError) as exc:
        login(app, peers, card)
    assert exc.value.code == e.INVALID_CREDENTIALS


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
    assert exc.value.code == e.CARD_ALREADY_BOUND
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
    assert exc.value.code == e.CONFLICT
    assert status_of(exc.value.code) == 409
    assert len(rivals) == CONFLICT_TRIES
    assert "e1" not in app.cards_of_user("u1")
    assert published(app) == []


def test_card_login_takes_only_the_certificate_pinned_at_bind(app, peers, ca):
    peers.add("u1", "e1")
    card = new_card(ca)
    bind(app, peers, "u1", "e1", card)
    # Another certificate of the same CA naming the same card number and holder, with its own key.
    twin = new_card(ca)
    assert twin.card_no == card.card_no and twin.certificate_pem != card.certificate_pem
    assert raises_code(login, app, peers, twin) == e.INVALID_CREDENTIALS
    assert login(app, peers, card)["user_id"] == "u1"
    app.unbind("u1", "e1")
    bind(app, peers, "u1", "e1", twin)  # bound again: now the other one is the card
    assert login(app, peers, twin)["user_id"] == "u1"
    assert raises_code(login, app, peers, card) == e.INVALID_CREDENTIALS

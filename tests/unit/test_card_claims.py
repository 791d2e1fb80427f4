"""The card side of an admin claim (角色认证), on the in-memory store: the legal-person card's proof is
checked in full before anything is written (the challenge included), then the enterprise service
decides the claim and the card is bound. Real certificates and signatures; the peers are fakes."""
import uuid
from datetime import UTC, datetime

import pytest

from contracts import errors as e
from contracts.errors import ServiceError
from services.card.application import CardApplication
from eport_card.devca import create_ca
from tests.card_support import USCC, Trust, new_card, sign
from tests.peers import FakeCardPeers
from tests.support import Clock

pytestmark = pytest.mark.unit


class ClaimPeers(FakeCardPeers):
    """FakeCardPeers plus the enterprise service's claim: `certified_admin` makes it refuse (409)."""

    def __init__(self):
        super().__init__()
        self.certified_admin = False
        self.claims = []

    def check_admin_claim(self, user_id, uscc, name, address, business_scope):
        if self.certified_admin:
            raise ServiceError(e.ENTERPRISE_HAS_ADMIN, "Its administrator is certified.")
        return {"enterprise_id": "e1", "registered": True}

    def claim_admin(self, user_id, uscc, card_no, name, address, business_scope):
        self.claims.append((user_id, uscc, card_no))
        association_id = str(uuid.uuid4())
        self.members[(user_id, "e1")] = {"association_id": association_id, "role": "admin", "status": "approved",
                                         "uscc": uscc}
        return {"enterprise_id": "e1", "association_id": association_id, "role": "admin", "status": "approved",
                "role_certified": True, "superseded_user_id": "u-squatter"}


@pytest.fixture(scope="module")
def ca():
    return create_ca(now=datetime(2025, 1, 1, tzinfo=UTC))


@pytest.fixture
def app(monkeypatch, ca):
    monkeypatch.setenv("EVENT_STORE", "memory")
    return CardApplication(clock=Clock(), trust=Trust(ca), ttl=120)


@pytest.fixture
def peers():
    p = ClaimPeers()
    p.holders["u1"] = ("张三", "11010519491231002X")
    return p


def body(app, card, user_id="u1", uscc=USCC, sign_with=None):
    challenge = app.create_challenge("bind", card.card_no, user_id)
    return dict(uscc=uscc, card_no=card.card_no, challenge_id=challenge["challenge_id"],
                certificate_pem=card.certificate_pem, signature_b64=sign(sign_with or card, challenge["nonce"]))


def claim(app, peers, args, user_id="u1"):
    return app.claim_admin(peers, user_id, **args)


def stored(app):
    return app.recorder.max_notification_id() or 0


def refused(app, peers, args, user_id="u1"):
    before = stored(app)
    with pytest.raises(ServiceError) as info:
        claim(app, peers, args, user_id)
    assert stored(app) == before and peers.claims == []
    return info.value.code


def test_refusals_write_nothing_and_leave_the_challenge_usable(app, peers, ca):
    legal = new_card(ca, card_type="legal_person")
    args = body(app, legal)
    assert refused(app, peers, body(app, new_card(ca, card_no="8800000000002"))) == e.CARD_NOT_LEGAL_PERSON
    assert refused(app, peers, body(app, new_card(ca, card_no="8800000000003", card_type="legal_person",
                                                  uscc="91330000MA2KXXXX0A"))) == e.CARD_ENTERPRISE_MISMATCH
    assert refused(app, peers, body(app, new_card(ca, card_no="8800000000004", card_type="legal_person",
                                                  holder_name="李四"))) == e.CARD_HOLDER_MISMATCH
    assert refused(app, peers, body(app, legal, sign_with=new_card(ca, card_type="legal_person"))) == \
        e.CARD_SIGNATURE_INVALID
    assert refused(app, peers, body(app, new_card(create_ca("Other CA"), card_type="legal_person"))) == \
        e.CERTIFICATE_UNTRUSTED
    assert refused(app, peers, args, user_id="u2") == e.CHALLENGE_INVALID  # asked for by another account
    assert refused(app, peers, dict(args, uscc="not a uscc")) == e.VALIDATION_ERROR
    peers.certified_admin = True
    assert refused(app, peers, args) == e.ENTERPRISE_HAS_ADMIN
    peers.certified_admin = False
    out = claim(app, peers, args)  # the same challenge: nothing above spent it
    assert out["superseded_user_id"] == "u-squatter" and out["card"]["card_type"] == "legal_person"
    assert app.cards_of_user("u1") == {"e1": out["card"]}
    with pytest.raises(ServiceError) as replay:
        claim(app, peers, args)
    assert replay.value.code == e.CHALLENGE_INVALID  # spent by the claim that went ahead


def test_a_card_bound_to_someone_else_is_refused_before_anything(app, peers, ca):
    legal = new_card(ca, card_type="legal_person")
    peers.add("u9", "e1", role="user", holder={"holder_name": "张三", "holder_id_number": "11010519491231002X"})
    challenge = app.create_challenge("bind", legal.card_no, "u9")
    app.bind(peers, "u9", "e1", legal.card_no, challenge["challenge_id"], legal.certificate_pem,
             sign(legal, challenge["nonce"]))
    assert refused(app, peers, body(app, legal)) == e.CARD_ALREADY_BOUND


def test_a_member_claiming_with_the_card_bound_already_keeps_that_binding(app, peers, ca):
    legal = new_card(ca, card_type="legal_person")
    peers.add("u1", "e1", role="user")
    challenge = app.create_challenge("bind", legal.card_no, "u1")
    bound = app.bind(peers, "u1", "e1", legal.card_no, challenge["challenge_id"], legal.certificate_pem,
                     sign(legal, challenge["nonce"]))
    assert bound["role_certified"] is False  # a user's legal-person card certifies no role
    out = claim(app, peers, body(app, legal))
    assert out["card"] == {k: bound[k] for k in ("card_no", "card_type", "bound_at")}

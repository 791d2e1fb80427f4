"""A role certification rests on the legal-person card that gave it (enterprise, in-memory store): that
card unbound, revoked or expired (CardUnbound and its reason) ends it, with RoleCertificationLost;
then the administrator acts on nothing and the holder of a valid legal-person card may claim the role.
A handover's certification rests on no card."""
import uuid

import pytest

from contracts import errors as e
from contracts.card import CARD_UNBOUND
from contracts.enterprise import ROLE_CERTIFICATION_LOST
from contracts.envelope import make_envelope
from services.enterprise.application import EnterpriseApplication
from tests.enterprise_support import uid, uncertified as registered, applied, published
from tests.support import raises_code

pytestmark = pytest.mark.unit
CARD = "8800000000001"
APPLICATION = EnterpriseApplication  # the `app` fixture's (tests/unit/conftest.py)


def certify(app, user, eid, uscc, card_no=CARD):
    association_id = app.membership(user, eid)["association_id"]
    return app.certify_card(user, eid, association_id, card_no, "legal_person", uscc)


def unbound(user_id, enterprise_id, card_no=CARD, reason="unbound"):
    """The card service's CardUnbound, as it reaches enterprise.card-events."""
    return make_envelope(CARD_UNBOUND, aggregate_id=str(uuid.uuid4()), aggregate_version=3,
                         occurred_at="2026-12-07T08:00:00+00:00", actor_user_id=None,
                         payload={"enterprise_id": enterprise_id, "user_id": user_id, "card_no": card_no,
                                  "card_type": "legal_person", "reason": reason})


def lost(app):
    return [env["payload"] for env in published(app) if env["event_type"] == ROLE_CERTIFICATION_LOST.name]


@pytest.mark.parametrize("reason", ["unbound", "revoked", "expired"])
def test_the_certifying_card_gone_ends_the_certification_and_opens_the_claim(app, reason):
    admin, eid, association_id, uscc = registered(app)
    certify(app, admin, eid, uscc)
    user, request = applied(app, uscc)
    holder = uid()
    assert raises_code(app.check_admin_claim, holder, uscc) == e.ENTERPRISE_HAS_ADMIN  # before: 409
    assert app.learn(unbound(admin, eid, reason=reason)) is True
    assert app.get_enterprise(eid, admin)["admin_role_certified"] is False
    assert app.membership(admin, eid)["role_certified"] is False
    assert app.associations_of_user(admin)[0]["role_certified"] is False
    assert raises_code(app.approve, admin, request) == e.ROLE_NOT_CERTIFIED
    assert [(p["user_id"], p["association_id"], p["reason"]) for p in lost(app)] == [(admin, association_id, reason)]
    # The holder of a valid legal-person card claims the role from the uncertified administrator.
    out = app.claim_admin(holder, uscc, "8800000000002")
    assert out["superseded_user_id"] == admin and app.get_enterprise(eid)["admin_user_id"] == holder


def test_a_repeat_or_another_card_changes_nothing(app):
    admin, eid, _, uscc = registered(app)
    certify(app, admin, eid, uscc)
    user, request = applied(app, uscc)
    app.approve(admin, request)
    envelope = unbound(admin, eid, reason="revoked")
    for other in (unbound(admin, eid, card_no="8800000000099"),  # not the card it rests on
                  unbound(user, eid),  # a member's card
                  unbound(admin, str(uuid.uuid4()))):  # another enterprise
        assert app.learn(other) is False
    assert app.get_enterprise(eid)["admin_role_certified"] is True
    assert app.learn(envelope) is True and app.learn(envelope) is False  # redelivered: once
    assert len(lost(app)) == 1


def test_a_handover_certification_stays_when_the_former_admins_card_goes(app):
    admin, eid, _, uscc = registered(app)
    certify(app, admin, eid, uscc)
    user, request = applied(app, uscc)
    app.approve(admin, request)
    app.transfer_admin(admin, eid, user)
    assert app.learn(unbound(admin, eid)) is False
    assert app.get_enterprise(eid)["admin_role_certified"] is True and lost(app) == []
    # The successor binding a legal-person card of their own does not make the handover's rest on it.
    certify(app, user, eid, uscc, card_no="8800000000003")
    assert app.learn(unbound(user, eid, card_no="8800000000003")) is False
    assert app.get_enterprise(eid)["admin_role_certified"] is True


def test_another_card_bound_before_the_unbinding_is_handled_keeps_the_certification(app):
    """The administrator unbinds the card and binds a new one at once: the bind (an RPC) reaches
    enterprise before the CardUnbound of the old card (an event)."""
    admin, eid, _, uscc = registered(app)
    certify(app, admin, eid, uscc)
    assert certify(app, admin, eid, uscc, card_no="8800000000004")["role_certified"] is True
    assert app.learn(unbound(admin, eid)) is False
    assert app.get_enterprise(eid)["admin_role_certified"] is True
    assert app.learn(unbound(admin, eid, card_no="8800000000004", reason="expired")) is True
    assert app.get_enterprise(eid)["admin_role_certified"] is False

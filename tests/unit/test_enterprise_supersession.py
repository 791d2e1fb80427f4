"""实名认证 seen by the enterprise rules, on the in-memory store: identity's UserSuperseded ends every
membership of the superseded account (reason superseded), once; an administrator so superseded keeps
no certified role (a handover's included), so the legal-person card's holder claims it; and authz, told
by the MemberRemoved, allows them nothing and revokes what they granted."""
import uuid

import pytest

from contracts.envelope import make_envelope
from contracts.identity import USER_SUPERSEDED
from services.authz.domain import EnterpriseAccess
from services.enterprise.application import EnterpriseApplication
from services.enterprise.domain import Association
from tests.enterprise_support import MANUAL, uid, registered, member

pytestmark = pytest.mark.unit
APPLICATION = EnterpriseApplication  # the `app` fixture's (tests/unit/conftest.py)


def superseded(user_id, by_user_id=None):
    return make_envelope(USER_SUPERSEDED, aggregate_id=user_id, aggregate_version=9,
                         occurred_at="2026-12-07T08:00:00+00:00",
                         payload={"user_id": user_id, "by_user_id": by_user_id or str(uuid.uuid4())})


def removals(app, user_id):
    return [(ev.reason, ev.user_id) for n in app.recorder.select_notifications(start=1, limit=1000)
            if isinstance(ev := app.mapper.to_domain_event(n), Association.Removed) and ev.user_id == user_id]


def test_every_membership_of_the_superseded_account_ends_once(app):
    admin, eid, uscc = registered(app)
    squatter, _ = member(app, admin, uscc)
    _, other_eid, other_uscc = registered(app)
    pending = app.associate(squatter, other_uscc, "user", user_name="张三")
    envelope = superseded(squatter)
    assert app.learn_identity(envelope) is True
    assert app.learn_identity(envelope) is False  # a repeat changes nothing
    assert sorted(a["status"] for a in app.associations_of_user(squatter)) == ["removed", "removed"]
    assert removals(app, squatter) == [("superseded", squatter)] * 2
    assert squatter not in {m["user_id"] for m in app.members(admin, eid)["items"]}
    assert app.membership(squatter, other_eid)["association_id"] == pending["association_id"]


def test_a_superseded_administrator_keeps_no_certified_role_and_the_legal_person_claims_it(app):
    admin, eid, uscc = registered(app)
    successor, _ = member(app, admin, uscc)
    app.transfer_admin(admin, eid, successor)  # certified by the handover, no card behind it
    assert app.get_enterprise(eid)["admin_role_certified"] is True
    assert app.learn_identity(superseded(successor)) is True
    assert app.get_enterprise(eid)["admin_role_certified"] is False
    holder = uid()
    out = app.claim_admin(holder, uscc, "8800000000009", **MANUAL)
    assert out["superseded_user_id"] == successor and out["role_certified"] is True
    assert removals(app, successor) == [("superseded", successor)]  # ended once, not again by the claim


def test_other_events_and_unknown_accounts_change_nothing(app):
    assert app.learn_identity(superseded(uid())) is False
    other = make_envelope(USER_SUPERSEDED, aggregate_id=uid(), aggregate_version=1,
                          occurred_at="2026-12-07T08:00:00+00:00", payload={"user_id": uid(), "by_user_id": uid()})
    other["event_type"] = "UserRegistered"
    assert app.learn_identity(other) is False


def test_authz_allows_a_superseded_administrator_nothing_and_revokes_what_they_granted():
    enterprise, admin, member_id, source = uid(), uid(), uid(), uid()
    access = EnterpriseAccess(enterprise_id=enterprise)
    access.learn_registered(admin, source, 1)
    access.learn_certified(admin, source, 2)
    access.learn_approved("a-member", member_id, "user")
    access.set_grants(member_id, {"manifest"}, admin)
    assert access.allows(admin, "manifest") and access.allows(member_id, "manifest")
    access.learn_removed("a-admin", admin, uid(), "superseded", 3)
    assert not access.allows(admin, "manifest") and not access.allows(member_id, "manifest")

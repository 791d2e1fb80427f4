"""authz and role certification (角色认证), on the in-memory store: an uncertified administrator is
allowed nothing and grants nothing; a superseded one's grants go; what was learnt before
certification existed replays as uncertified (the library's upcasting of AdminChanged v1)."""
import random

import pytest

from contracts import enterprise as ent
from contracts.envelope import make_envelope
from services.authz.application import AuthzApplication
from services.authz.catalogue import catalogue
from services.authz.domain import EnterpriseAccess
from services.authz.integration import to_integration
from tests.support import raises_code, stored_before

pytestmark = pytest.mark.unit
APPLICATION = AuthzApplication  # the `app` fixture's (tests/unit/conftest.py)

NOW = "2026-12-01T08:00:00+00:00"
E = "ent-cert"
SQUATTER, HOLDER, MEMBER = "u-squatter", "u-holder", "u-member"


def envelope(et, version, aggregate_id=E, **payload):
    return make_envelope(et, aggregate_id=aggregate_id, aggregate_version=version, occurred_at=NOW,
                         payload=dict(enterprise_id=E, **payload))


def registered(admin, version=1):
    return envelope(ent.ENTERPRISE_REGISTERED, version, uscc="91330000MA2X", name="宁波测试", certified=False,
                    admin_user_id=admin)


def approved(user, association_id, role="user"):
    return envelope(ent.ASSOCIATION_APPROVED, 1, aggregate_id=association_id, association_id=association_id,
                    user_id=user, role=role)


def certified(user, version, via="legal_person_card"):
    return envelope(ent.ROLE_CERTIFIED, version, user_id=user, association_id=f"a-{user}", via=via, card_no="88")


def superseded(from_user, to_user, version):
    return envelope(ent.ADMIN_SUPERSEDED, version, from_user_id=from_user, from_association_id=f"a-{from_user}",
                    to_user_id=to_user, to_association_id=f"a-{to_user}")


def removed(user, association_id):
    return envelope(ent.MEMBER_REMOVED, 2, aggregate_id=association_id, association_id=association_id,
                    user_id=user, role="admin", reason="superseded")


def test_an_uncertified_admin_is_allowed_nothing_and_grants_nothing(app):
    for env in (registered(SQUATTER), approved(SQUATTER, "a-u-squatter", "admin"), approved(MEMBER, "a-member")):
        app.learn(env)
    assert not any(app.check(SQUATTER, E, s) for s in catalogue().codes)
    assert app.get_permissions(SQUATTER, E, SQUATTER)["systems"] == []
    assert app.systems_of_members(E)[SQUATTER] == []
    assert raises_code(app.set_permissions, SQUATTER, E, MEMBER, ["manifest"]) == "ROLE_NOT_CERTIFIED"
    assert raises_code(app.check_as, SQUATTER, MEMBER, E, "manifest") == "ROLE_NOT_CERTIFIED"  # may not even look
    app.learn(certified(SQUATTER, 2))
    assert all(app.check(SQUATTER, E, s) for s in catalogue().codes)
    assert app.set_permissions(SQUATTER, E, MEMBER, ["manifest"])["systems"] == ["manifest"]


def test_a_superseded_admins_grants_are_revoked_and_the_holder_is_certified(app):
    for env in (registered(SQUATTER), approved(SQUATTER, "a-u-squatter", "admin"), approved(MEMBER, "a-member"),
                certified(SQUATTER, 2)):  # so that they can grant, as anyone could before 角色认证
        app.learn(env)
    app.set_permissions(SQUATTER, E, MEMBER, ["manifest", "cargo_declaration"])
    app.set_permissions(SQUATTER, E, SQUATTER, ["export_tax_rebate"])
    for env in (superseded(SQUATTER, HOLDER, 3), certified(HOLDER, 4, via="claim"),
                removed(SQUATTER, "a-u-squatter")):
        app.learn(env)
    assert app.get_permissions(HOLDER, E, MEMBER)["systems"] == []
    assert not app.check(SQUATTER, E, "export_tax_rebate") and not app.check(SQUATTER, E, "manifest")
    assert SQUATTER not in app.systems_of_members(E)
    assert all(app.check(HOLDER, E, s) for s in catalogue().codes)
    revoked = [env for n in app.recorder.select_notifications(start=0, limit=1000)
               for env in to_integration(app.mapper.to_domain_event(n)) if env["event_type"] == "PermissionRevoked"]
    assert sorted((r["payload"]["user_id"], r["payload"]["reason"]) for r in revoked) == [
        (MEMBER, "admin_superseded"), (MEMBER, "admin_superseded"), (SQUATTER, "admin_superseded")]


def test_grants_the_holder_made_survive_a_late_supersession(app):
    for env in (registered(SQUATTER), approved(MEMBER, "a-member"), certified(HOLDER, 4, via="claim")):
        app.learn(env)
    app.set_permissions(HOLDER, E, MEMBER, ["manifest"])
    app.learn(superseded(SQUATTER, HOLDER, 3))  # handled late: the holder stays the certified admin
    assert app.check(MEMBER, E, "manifest") is True
    assert app.admin_of(E) == HOLDER and app.projection.get(E).admin_certified is True


def test_claim_story_in_any_order(monkeypatch, fresh_var):
    monkeypatch.setenv("EVENT_STORE", "memory")
    story = [registered(SQUATTER), approved(SQUATTER, "a-u-squatter", "admin"), approved(MEMBER, "a-member"),
             superseded(SQUATTER, HOLDER, 2), certified(HOLDER, 3, via="claim"), removed(SQUATTER, "a-u-squatter"),
             approved(HOLDER, "a-u-holder", "admin")]
    shuffled = random.Random(10)
    for order in [shuffled.sample(story, len(story)) for _ in range(30)] + [list(reversed(story))]:
        app = AuthzApplication()
        for env in order:
            app.learn(env)
        access = app.projection.get(E)
        assert (access.admin_user_id, access.admin_certified, sorted(access.members())) == \
            (HOLDER, True, [HOLDER, MEMBER]), [env["event_type"] for env in order]


def test_an_admin_learnt_before_certification_reads_uncertified(app):
    """AdminChanged v1 (no role_certified) is upcast by the library (class_version 2, upcast_v1_v2)."""
    app.learn(registered(SQUATTER))
    app.learn(certified(SQUATTER, 2))
    v1 = [stored_before(app.mapper, n, "role_certified") for n in app.recorder.select_notifications(start=0, limit=100)
          if n.topic.endswith("AdminChanged")]
    access = None
    for n in app.recorder.select_notifications(start=0, limit=100):
        if n.originator_id == EnterpriseAccess.create_id(E):
            old = next((s for s in v1 if s.originator_version == n.originator_version), n)
            access = app.mapper.to_domain_event(old).mutate(access)
    assert access.admin_user_id == SQUATTER and access.admin_certified is False
    assert access.allows(SQUATTER, "manifest") is False


def certification_lost(user, version, reason="revoked"):
    return envelope(ent.ROLE_CERTIFICATION_LOST, version, user_id=user, association_id=f"a-{user}", card_no="88",
                    reason=reason)


def test_an_admin_whose_certifying_card_is_gone_is_allowed_nothing_until_certified_again(app):
    for env in (registered(HOLDER), approved(HOLDER, "a-u-holder", "admin"), approved(MEMBER, "a-member"),
                certified(HOLDER, 2)):
        app.learn(env)
    assert app.check(HOLDER, E, "manifest")
    app.learn(certification_lost(HOLDER, 3))
    assert not any(app.check(HOLDER, E, s) for s in catalogue().codes)
    assert raises_code(app.set_permissions, HOLDER, E, MEMBER, ["manifest"]) == "ROLE_NOT_CERTIFIED"
    app.learn(certified(HOLDER, 2))  # an older certification handled late changes nothing
    assert not app.check(HOLDER, E, "manifest")
    app.learn(certified(HOLDER, 4))  # bound a valid legal-person card again
    assert app.check(HOLDER, E, "manifest")

"""The rules of business-system permissions, on the in-memory store."""
import json
import random

import pytest

from contracts import authz as c
from contracts import enterprise as ent
from contracts.envelope import make_envelope, read_envelope
from gateway.errors import status_of
from services.authz.application import MAX_ATTEMPTS, AuthzApplication
from services.authz.catalogue import DATA, catalogue
from services.authz.domain import EnterpriseAccess
from services.authz.integration import to_integration
from tests.support import raised

pytestmark = pytest.mark.unit
APPLICATION = AuthzApplication  # the `app` fixture's (tests/unit/conftest.py)

NOW = "2024-05-01T08:00:00+00:00"
E = "ent-1"
ADMIN, MEMBER, OTHER, OUTSIDER = "u-admin", "u-member", "u-other", "u-outsider"


def envelope(et, payload, version, aggregate_id=E):
    return make_envelope(et, aggregate_id=aggregate_id, aggregate_version=version, occurred_at=NOW,
                         payload=payload)


def registered(admin=ADMIN, version=1, enterprise_id=E):
    return envelope(ent.ENTERPRISE_REGISTERED, {"enterprise_id": enterprise_id, "uscc": "91330000MA2X",
                                                "name": "宁波测试", "certified": True, "admin_user_id": admin},
                    version, aggregate_id=enterprise_id)


def approved(user, association_id, version, role="user"):
    return envelope(ent.ASSOCIATION_APPROVED, {"association_id": association_id, "enterprise_id": E,
                                               "user_id": user, "role": role}, version)


def transferred(from_user, to_user, version):
    return envelope(ent.ADMIN_TRANSFERRED, {"enterprise_id": E, "from_user_id": from_user,
                                            "to_user_id": to_user}, version)


def certified(user, version, via="legal_person_card"):
    """The administrator's role certified (角色认证), as the enterprise service publishes it."""
    return envelope(ent.ROLE_CERTIFIED, {"enterprise_id": E, "user_id": user, "association_id": f"a-{user}",
                                         "via": via, "card_no": None}, version)


def removed(user, association_id, version):
    return envelope(ent.MEMBER_REMOVED, {"association_id": association_id, "enterprise_id": E,
                                         "user_id": user, "role": "user"}, version)


def with_members(app):
    """The enterprise of ADMIN, whose role is certified, with MEMBER and OTHER approved."""
    for env in (registered(), certified(ADMIN, 2), approved(ADMIN, "a-admin", 2, "admin"),
                approved(MEMBER, "a-member", 3), approved(OTHER, "a-other", 4)):
        assert app.learn(env)
    return app


def integration_events(app):
    out = []
    for n in app.recorder.select_notifications(start=0, limit=10_000):
        out.extend(to_integration(app.mapper.to_domain_event(n)))
    return out


# -- catalogue -----------------------------------------------------------------------------------
def test_catalogue_holds_the_manuals_systems_with_stable_unique_codes():
    data = json.loads(DATA.read_text(encoding="utf-8"))["systems"]
    names = {s["name"] for s in data}
    assert {"货物申报", "舱单申报", "加工贸易", "跨境电商", "出口退税", "原产地证", "运输工具", "保税物流"} <= names
    codes = [s["code"] for s in data]
    assert len(codes) == len(set(codes))
    assert all(code.isascii() and code == code.lower() and " " not in code for code in codes)


def test_list_systems_in_catalogue_order(app):
    systems = app.list_systems()
    assert [s["code"] for s in systems] == list(catalogue().codes)
    assert systems[0] == {"code": "cargo_declaration", "name": "货物申报", "name_en": "Customs declaration of goods"}


# -- the manual's story --------------------------------------------------------------------------
def test_admin_grants_member_checks_then_revoke(app):
    with_members(app)
    assert app.check(MEMBER, E, "cargo_declaration") is False
    view = app.set_permissions(ADMIN, E, MEMBER, ["manifest", "cargo_declaration"])
    assert view["systems"] == ["cargo_declaration", "manifest"]  # catalogue order
    assert app.check(MEMBER, E, "cargo_declaration") is True
    assert app.check(MEMBER, E, "processing_trade") is False
    assert app.check(OTHER, E, "cargo_declaration") is False
    app.set_permissions(ADMIN, E, MEMBER, ["manifest"])
    assert app.check(MEMBER, E, "cargo_declaration") is False
    assert app.check(MEMBER, E, "manifest") is True


def test_put_records_only_the_differences(app):
    with_members(app)
    app.set_permissions(ADMIN, E, MEMBER, ["manifest", "cargo_declaration"])
    before = len(integration_events(app))
    app.set_permissions(ADMIN, E, MEMBER, ["manifest", "cargo_declaration"])  # same set: nothing new
    assert len(integration_events(app)) == before
    app.set_permissions(ADMIN, E, MEMBER, ["manifest", "bonded_logistics", "bonded_logistics"])
    new = integration_events(app)[before:]
    assert [(x["event_type"], x["payload"]["system"]) for x in new] == [
        ("PermissionGranted", "bonded_logistics"), ("PermissionRevoked", "cargo_declaration")]
    assert new[1]["payload"]["reason"] == "revoked"
    assert all(x["actor_user_id"] == ADMIN for x in new)


def test_integration_events_are_valid_envelopes_with_distinct_ids(app):
    with_members(app)
    app.set_permissions(ADMIN, E, MEMBER, ["manifest", "cargo_declaration"])
    app.set_permissions(ADMIN, E, MEMBER, [])
    events = integration_events(app)
    assert [x["event_type"] for x in events] == ["EnterpriseAdminChanged", "EnterpriseAdminChanged",
                                                 "PermissionGranted", "PermissionGranted", "PermissionRevoked",
                                                 "PermissionRevoked"]
    assert [x["payload"]["role_certified"] for x in events[:2]] == [False, True]
    for x in events:
        read_envelope(x)
        assert x["source"] == "authz"
    assert len({x["event_id"] for x in events}) == len(events)
    assert events[2]["payload"] == {"enterprise_id": E, "user_id": MEMBER, "system": "cargo_declaration",
                                    "system_name": "货物申报"}
    assert len({x["aggregate_id"] for x in events}) == 1
    versions = [x["aggregate_version"] for x in events]
    assert versions == sorted(versions)
    assert c.PERMISSION_GRANTED.payload().validate(events[2]["payload"]) == {}


# -- who may grant -------------------------------------------------------------------------------
@pytest.mark.parametrize("actor", [MEMBER, OTHER, OUTSIDER])
def test_only_the_admin_grants(app, actor):
    with_members(app)
    err = raised(app.set_permissions, actor, E, MEMBER, ["manifest"])
    assert err.code == "FORBIDDEN"
    assert app.check(MEMBER, E, "manifest") is False


def test_unknown_enterprise_is_forbidden_not_created(app):
    assert raised(app.set_permissions, ADMIN, "no-such-ent", MEMBER, ["manifest"]).code == "FORBIDDEN"
    assert app.projection.get("no-such-ent") is None


def test_made_up_enterprise_ids_leave_no_lock_behind(app):
    for n in range(1000):  # ids in paths that exist nowhere
        assert raised(app.set_permissions, ADMIN, f"made-up-{n}", MEMBER, ["manifest"]).code == "FORBIDDEN"
    assert len(app._enterprise_locks) <= 64


def test_unknown_system_code_names_the_field_and_changes_nothing(app):
    with_members(app)
    app.set_permissions(ADMIN, E, MEMBER, ["manifest"])
    err = raised(app.set_permissions, ADMIN, E, MEMBER, ["manifest", "no_such_system", "cargo_declaration"])
    assert err.code == "UNKNOWN_SYSTEM"
    assert "no_such_system" in err.details["systems"][0]
    assert app.get_permissions(ADMIN, E, MEMBER)["systems"] == ["manifest"]


def test_grants_only_to_approved_members(app):
    with_members(app)
    assert raised(app.set_permissions, ADMIN, E, OUTSIDER, ["manifest"]).code == "NOT_A_MEMBER"
    assert app.check(OUTSIDER, E, "manifest") is False


# -- the administrator ---------------------------------------------------------------------------
def test_admin_is_allowed_every_system(app):
    with_members(app)
    assert all(app.check(ADMIN, E, code) for code in catalogue().codes)
    view = app.get_permissions(ADMIN, E, ADMIN)
    assert view["systems"] == list(catalogue().codes) and view["admin"] is True and view["granted"] == []
    assert app.check(ADMIN, "another-ent", "manifest") is False


def test_after_transfer_former_admin_keeps_only_explicit_grants(app):
    with_members(app)
    app.set_permissions(ADMIN, E, ADMIN, ["export_tax_rebate"])  # the admin's own explicit grant
    app.learn(transferred(ADMIN, MEMBER, 5))
    app.learn(certified(MEMBER, 6, via="handover"))
    assert app.check(ADMIN, E, "export_tax_rebate") is True
    assert app.check(ADMIN, E, "manifest") is False
    assert app.check(MEMBER, E, "manifest") is True
    assert raised(app.set_permissions, ADMIN, E, OTHER, ["manifest"]).code == "FORBIDDEN"
    assert app.set_permissions(MEMBER, E, ADMIN, [])["systems"] == []
    assert app.check(ADMIN, E, "export_tax_rebate") is False


# -- memberships ---------------------------------------------------------------------------------
def test_member_removed_revokes_every_grant(app):
    with_members(app)
    app.set_permissions(ADMIN, E, MEMBER, ["manifest", "cargo_declaration"])
    assert app.learn(removed(MEMBER, "a-member", 5))
    assert app.check(MEMBER, E, "manifest") is False
    revoked = [x for x in integration_events(app) if x["event_type"] == "PermissionRevoked"]
    assert sorted(x["payload"]["system"] for x in revoked) == ["cargo_declaration", "manifest"]
    assert {x["payload"]["reason"] for x in revoked} == {"membership_ended"}
    assert raised(app.set_permissions, ADMIN, E, MEMBER, ["manifest"]).code == "NOT_A_MEMBER"
    assert MEMBER not in app.systems_of_members(E)


def test_rejoined_member_starts_without_grants(app):
    with_members(app)
    app.set_permissions(ADMIN, E, MEMBER, ["manifest"])
    app.learn(removed(MEMBER, "a-member", 5))
    app.learn(approved(MEMBER, "a-member-2", 6))
    assert app.get_permissions(MEMBER, E, MEMBER)["systems"] == []
    app.set_permissions(ADMIN, E, MEMBER, ["manifest"])
    assert app.check(MEMBER, E, "manifest") is True


def test_repeated_enterprise_event_changes_nothing(app):
    with_members(app)
    app.set_permissions(ADMIN, E, MEMBER, ["manifest"])
    event = removed(MEMBER, "a-member", 5)
    assert app.learn(event) is True
    app.learn(approved(MEMBER, "a-member-2", 6))
    app.set_permissions(ADMIN, E, MEMBER, ["manifest"])
    count = len(integration_events(app))
    assert app.learn(event) is False  # redelivered: must not revoke the new membership's grant
    assert app.check(MEMBER, E, "manifest") is True
    assert len(integration_events(app)) == count


def test_invalid_payload_is_recorded_and_ignored(app):
    bad = registered()
    del bad["payload"]["admin_user_id"]
    assert app.learn(bad) is True
    assert app.learn(bad) is False
    assert app.projection.get(E) is None


# -- order independence --------------------------------------------------------------------------
STORY = [registered(), certified(ADMIN, 2), approved(ADMIN, "a-admin", 2, "admin"), approved(MEMBER, "a-member", 3),
         approved(OTHER, "a-other", 4), transferred(ADMIN, MEMBER, 5), certified(MEMBER, 6, "handover"),
         transferred(MEMBER, OTHER, 7), certified(OTHER, 8, "handover"), removed(ADMIN, "a-admin", 9)]


def final_state(app):
    access = app.projection.get(E)
    return access.admin_user_id, access.admin_certified, sorted(access.members())


def test_any_delivery_order_gives_the_same_state(monkeypatch, fresh_var):
    monkeypatch.setenv("EVENT_STORE", "memory")
    expected = (OTHER, True, sorted([MEMBER, OTHER]))
    # every order of the 10 events is 3.6 million runs: take a fixed random sample plus the reverse
    shuffled = random.Random(20261201)
    orders = [shuffled.sample(STORY, len(STORY)) for _ in range(50)]
    for order in orders + [list(reversed(STORY))]:
        app = AuthzApplication()
        for env in order:
            app.learn(env)
        assert final_state(app) == expected, [e["event_type"] for e in order]


def test_removal_before_approval_of_the_same_association_keeps_it_removed(app):
    app.learn(registered())
    app.learn(certified(ADMIN, 2))
    app.learn(removed(MEMBER, "a-member", 4))
    app.learn(approved(MEMBER, "a-member", 3))
    assert raised(app.set_permissions, ADMIN, E, MEMBER, ["manifest"]).code == "NOT_A_MEMBER"


def test_registration_handled_after_transfer_does_not_take_the_role_back(app):
    app.learn(transferred(ADMIN, MEMBER, 4))
    app.learn(registered())
    assert app.admin_of(E) == MEMBER


# -- reading -------------------------------------------------------------------------------------
def test_get_permissions_for_self_or_admin_only(app):
    with_members(app)
    app.set_permissions(ADMIN, E, MEMBER, ["manifest"])
    assert app.get_permissions(MEMBER, E, MEMBER)["systems"] == ["manifest"]
    assert app.get_permissions(ADMIN, E, MEMBER)["systems"] == ["manifest"]
    for actor in (OTHER, OUTSIDER):
        assert raised(app.get_permissions, actor, E, MEMBER).code == "FORBIDDEN"
    assert app.get_permissions(OUTSIDER, "unknown-ent", OUTSIDER)["systems"] == []


def test_an_uncertified_administrator_reads_no_one_elses_permissions(app):
    with_members(app)
    app.set_permissions(ADMIN, E, MEMBER, ["manifest"])
    assert app.learn(envelope(ent.ROLE_CERTIFICATION_LOST, {
        "enterprise_id": E, "user_id": ADMIN, "association_id": "a-admin", "card_no": "LP0001",
        "reason": "unbound"}, 5))
    for read in (lambda: app.get_permissions(ADMIN, E, MEMBER), lambda: app.check_as(ADMIN, MEMBER, E, "manifest")):
        refusal = raised(read)
        assert (refusal.code, refusal.details) == ("ROLE_NOT_CERTIFIED", {"role_certified": [False]})
    assert app.get_permissions(ADMIN, E, ADMIN)["role_certified"] is False  # themself: always
    assert app.check_as(ADMIN, ADMIN, E, "manifest") is False
    assert app.get_permissions(MEMBER, E, MEMBER)["systems"] == ["manifest"]
    assert raised(app.get_permissions, OTHER, E, MEMBER).code == "FORBIDDEN"  # not the admin: as before


def test_check_as_rules(app):
    with_members(app)
    app.set_permissions(ADMIN, E, MEMBER, ["manifest"])
    assert app.check_as(MEMBER, MEMBER, E, "manifest") is True
    assert app.check_as(ADMIN, MEMBER, E, "manifest") is True
    assert app.check_as(OUTSIDER, OUTSIDER, E, "manifest") is False
    assert raised(app.check_as, OTHER, MEMBER, E, "manifest").code == "FORBIDDEN"
    assert raised(app.check_as, OUTSIDER, MEMBER, "unknown-ent", "manifest").code == "FORBIDDEN"
    assert raised(app.check_as, MEMBER, MEMBER, E, "nope").code == "UNKNOWN_SYSTEM"


def test_systems_of_members(app):
    with_members(app)
    app.set_permissions(ADMIN, E, MEMBER, ["manifest"])
    members = app.systems_of_members(E)
    assert members == {ADMIN: list(catalogue().codes), MEMBER: ["manifest"], OTHER: []}
    assert app.systems_of_members("unknown-ent") == {}


def test_aggregate_id_is_derived_from_the_enterprise_id():
    assert EnterpriseAccess.create_id("x") == EnterpriseAccess.create_id("x") != EnterpriseAccess.create_id("y")


# -- conflicts -------------------------------------------------------------------------------------
@pytest.fixture
def rivals(monkeypatch, fresh_var):
    """Two instances on one SQLite store; each save of the first one loses to a change the second
    makes just before it (a real version conflict every time). Answers (first, counter of rounds)."""
    monkeypatch.setenv("EVENT_STORE", "sqlite")
    first, second = AuthzApplication(), AuthzApplication()
    with_members(first)
    second.projection.catch_up()
    save, rounds = first.save, []

    def another_instance_saves_first(*aggregates, **kwargs):
        if not rounds or rounds[-1] is not None:
            second.set_permissions(ADMIN, E, OTHER, [] if len(rounds) % 2 else ["manifest"])
            rounds.append(len(rounds))
        return save(*aggregates, **kwargs)

    monkeypatch.setattr(first, "save", another_instance_saves_first)
    yield first, rounds
    rounds.append(None)  # no rivals any more


def test_a_command_that_keeps_losing_to_other_writers_answers_409_conflict(rivals):
    """set_permissions answers 409 CONFLICT after its tries, not RuntimeError (a 500)."""
    app, rounds = rivals
    info = raised(app.set_permissions, ADMIN, E, MEMBER, ["manifest"])
    assert info.code == "CONFLICT"
    assert status_of(info.code) == 409
    assert len(rounds) == MAX_ATTEMPTS
    rounds.append(None)
    assert app.get_permissions(ADMIN, E, MEMBER)["granted"] == []  # nothing of it stored


def test_an_event_that_keeps_conflicting_is_requeued_with_409_conflict(rivals):
    app, rounds = rivals
    event = removed(OTHER, "a-other", 5)
    assert raised(app.learn, event).code == "CONFLICT"
    assert len(rounds) == MAX_ATTEMPTS
    rounds.append(None)
    assert not app.is_processed("authz", event["event_id"])
    assert app.learn(event) is True  # the redelivery applies it

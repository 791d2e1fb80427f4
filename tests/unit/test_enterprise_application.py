"""The enterprise rules on the in-memory store: registration, application, decisions, transfer."""
import uuid

import pytest

from contracts import errors as e
from contracts.errors import ServiceError
from services.enterprise.application import EnterpriseApplication
from services.enterprise.domain import enterprise_id_of
from tests.factories import new_uscc
from tests.enterprise_support import KNOWN, MANUAL, uid, registered, member
from tests.support import raises_code

pytestmark = pytest.mark.unit
APPLICATION = EnterpriseApplication  # the `app` fixture's (tests/unit/conftest.py)


def test_admin_registers_a_known_enterprise_certified_from_the_registry(app):
    admin = uid()
    out = app.associate(admin, KNOWN, "admin", name="ignored", address="ignored", business_scope="ignored")
    assert out["role"] == "admin" and out["status"] == "approved" and out["certified"] is True
    assert out["enterprise_id"] == str(enterprise_id_of(KNOWN))
    ent = app.get_enterprise(out["enterprise_id"], admin)
    assert ent["name"] == "浙江电子口岸有限公司" and ent["address"] == "杭州市上城区"
    assert ent["business_scope"] == "信息服务" and ent["certified"] is True and ent["admin_user_id"] == admin
    assert app.lookup_registry(KNOWN)["registered"] is True


def test_admin_registers_an_unknown_enterprise_by_hand_uncertified(app):
    admin, eid, uscc = registered(app, certify=False)
    ent = app.get_enterprise(eid, admin)
    assert ent["certified"] is False and ent["name"] == MANUAL["name"]
    found = app.lookup_registry(uscc)  # the platform's own record answers the look-up from now on
    assert found["registered"] is True and found["certified"] is False and found["enterprise_id"] == eid


def test_unknown_enterprise_needs_every_manual_field_and_stores_nothing(app):
    uscc = new_uscc()
    with pytest.raises(ServiceError) as info:
        app.associate(uid(), uscc, "admin", name="  ", address="某地")
    assert info.value.code == e.VALIDATION_ERROR
    assert set(info.value.details) == {"name", "business_scope"}
    assert raises_code(app.lookup_registry, uscc) == e.ENTERPRISE_NOT_FOUND
    assert app.recorder.max_notification_id() in (None, 0)


@pytest.mark.parametrize("bad", [
    "913300007458363393",   # check character
    "91330000745836339",    # 17 characters
    "9133000074583633922",  # 19 characters
    "91330000I45836339X",   # I is not in the alphabet
    "91330000O45836339X", "91330000Z45836339X", "91330000S45836339X", "91330000V45836339X",
    "91330000745836339a",   # lower case
])
def test_bad_uscc_is_a_validation_error_naming_the_field(app, bad):
    for call in (lambda: app.lookup_registry(bad), lambda: app.associate(uid(), bad, "admin", **MANUAL)):
        with pytest.raises(ServiceError) as info:
            call()
        assert info.value.code == e.VALIDATION_ERROR and "uscc" in info.value.details
    assert app.recorder.max_notification_id() in (None, 0)


def test_bad_role_is_a_validation_error(app):
    with pytest.raises(ServiceError) as info:
        app.associate(uid(), KNOWN, "owner")
    assert info.value.code == e.VALIDATION_ERROR and "role" in info.value.details


def test_one_administrator_per_enterprise(app):
    admin, eid, uscc = registered(app)
    assert raises_code(app.associate, uid(), uscc, "admin", **MANUAL) == e.ENTERPRISE_HAS_ADMIN


def test_user_needs_a_registered_enterprise(app):
    assert raises_code(app.associate, uid(), new_uscc(), "user") == e.ENTERPRISE_NOT_REGISTERED


def test_one_live_association_per_user_and_enterprise_and_reapply_after_rejection(app):
    admin, eid, uscc = registered(app)
    user = uid()
    first = app.associate(user, uscc, "user", user_name="李四")
    assert first["status"] == "pending"
    assert raises_code(app.associate, user, uscc, "user") == e.ALREADY_ASSOCIATED
    assert raises_code(app.associate, admin, uscc, "user") == e.ALREADY_ASSOCIATED
    app.reject(admin, first["association_id"], "资料不符")
    assert app.membership(user, eid)["status"] == "rejected"
    second = app.associate(user, uscc, "user", user_name="李四")
    assert second["association_id"] != first["association_id"]
    assert app.membership(user, eid) == {"association_id": second["association_id"], "role": "user",
                                         "status": "pending", "uscc": uscc, "role_certified": False}
    app.approve(admin, second["association_id"])
    assert raises_code(app.associate, user, uscc, "user") == e.ALREADY_ASSOCIATED
    mine = app.associations_of_user(user)
    assert [(a["association_id"], a["status"]) for a in mine] == [(second["association_id"], "approved")]


def test_only_the_administrator_decides(app):
    admin, eid, uscc = registered(app)
    other_admin, _, _ = registered(app)
    approved_user, _ = member(app, admin, uscc)
    applicant = uid()
    req = app.associate(applicant, uscc, "user", user_name="王五")
    for actor in (applicant, approved_user, other_admin, uid(), None):
        assert raises_code(app.approve, actor, req["association_id"]) == e.FORBIDDEN
        assert raises_code(app.reject, actor, req["association_id"]) == e.FORBIDDEN
        assert raises_code(app.members, actor, eid) == e.FORBIDDEN
        assert raises_code(app.association_requests, actor, eid) == e.FORBIDDEN
        assert raises_code(app.transfer_admin, actor, eid, approved_user) == e.FORBIDDEN
        assert raises_code(app.remove_member, actor, eid, approved_user) == e.FORBIDDEN
    assert raises_code(app.get_enterprise, eid, applicant) == e.FORBIDDEN
    assert app.get_enterprise(eid, approved_user)["enterprise_id"] == eid
    assert app.approve(admin, req["association_id"]) == {"association_id": req["association_id"], "status": "approved"}
    assert raises_code(app.approve, admin, req["association_id"]) == e.NOT_PENDING
    assert raises_code(app.reject, admin, req["association_id"]) == e.NOT_PENDING


def test_requests_and_members_lists(app):
    admin, eid, uscc = registered(app)
    a = app.associate(uid(), uscc, "user", user_name="甲乙")
    b = app.associate(uid(), uscc, "user", user_name="丙丁")
    app.approve(admin, a["association_id"])
    pending = app.association_requests(admin, eid, "pending")["items"]
    assert [r["association_id"] for r in pending] == [b["association_id"]]
    everyone = app.association_requests(admin, eid)["items"]
    assert [r["association_id"] for r in everyone] == [b["association_id"], a["association_id"]]
    members = app.members(admin, eid)["items"]
    assert [m["role"] for m in members] == ["admin", "user"]
    assert raises_code(app.association_requests, admin, eid, "maybe") == e.VALIDATION_ERROR


def test_transfer_moves_the_role_and_the_former_admin_stays_a_user(app):
    admin, eid, uscc = registered(app)
    successor, _ = member(app, admin, uscc, "新管理员")
    outsider = uid()
    pending = app.associate(outsider, uscc, "user", user_name="待审")
    assert raises_code(app.transfer_admin, admin, eid, outsider) == e.NOT_A_MEMBER
    assert raises_code(app.transfer_admin, admin, eid, uid()) == e.NOT_A_MEMBER
    assert app.transfer_admin(admin, eid, successor) == {"enterprise_id": eid, "admin_user_id": successor}
    assert app.membership(admin, eid)["role"] == "user" and app.membership(admin, eid)["status"] == "approved"
    assert app.membership(successor, eid)["role"] == "admin"
    assert raises_code(app.approve, admin, pending["association_id"]) == e.FORBIDDEN
    assert raises_code(app.transfer_admin, admin, eid, successor) == e.CONFLICT  # the same transfer again
    assert raises_code(app.transfer_admin, admin, eid, admin) == e.FORBIDDEN
    app.approve(successor, pending["association_id"])
    assert app.get_enterprise(eid, admin)["admin_user_id"] == successor


def test_remove_member(app):
    admin, eid, uscc = registered(app)
    user, _ = member(app, admin, uscc)
    assert raises_code(app.remove_member, admin, eid, admin) == e.CONFLICT
    app.remove_member(admin, eid, user)
    assert app.membership(user, eid)["status"] == "removed"
    assert raises_code(app.get_enterprise, eid, user) == e.FORBIDDEN
    assert raises_code(app.remove_member, admin, eid, user) == e.NOT_A_MEMBER
    assert app.associate(user, uscc, "user")["status"] == "pending"  # may apply again


def test_unknown_ids_are_not_found(app):
    admin, eid, uscc = registered(app)
    for bad in ("nope", str(uuid.uuid4())):
        assert raises_code(app.get_enterprise, bad, admin) == e.ENTERPRISE_NOT_FOUND
        assert raises_code(app.approve, admin, bad) == e.ASSOCIATION_NOT_FOUND
        assert raises_code(app.transfer_admin, admin, bad, admin) == e.ENTERPRISE_NOT_FOUND
        assert app.membership(admin, bad) is None
    assert app.associations_of_user(uid()) == []


def test_concurrent_approvals_of_one_enterprise_cannot_both_save(app):
    """Two decisions loaded from the same versions: the second save conflicts (409 CONFLICT)."""
    admin, eid, uscc = registered(app)
    reqs = [app.associate(uid(), uscc, "user")["association_id"] for _ in range(2)]
    real_save = app.save
    held = []

    def save_later(*aggregates, **kw):  # the first command has loaded and decided; hold it back
        if not held:
            held.append(aggregates)
            app.approve(admin, reqs[1])  # meanwhile the other decision is saved
        return real_save(*aggregates, **kw)

    app.save = save_later
    assert raises_code(app.approve, admin, reqs[0]) == e.CONFLICT
    app.save = real_save
    statuses = sorted(r["status"] for r in app.association_requests(admin, eid)["items"])
    assert statuses == ["approved", "pending"]


def test_racing_registrations_of_one_uscc(app):
    uscc = new_uscc()
    real_save = app.save

    def save_after_rival(*aggregates, **kw):
        app.save = real_save
        app.associate(uid(), uscc, "admin", **MANUAL)
        return real_save(*aggregates, **kw)

    app.save = save_after_rival
    assert raises_code(app.associate, uid(), uscc, "admin", **MANUAL) == e.ENTERPRISE_HAS_ADMIN


def test_racing_applications_of_one_user_to_one_enterprise(app):
    admin, eid, uscc = registered(app)
    user = uid()
    real_save = app.save

    def save_after_rival(*aggregates, **kw):
        app.save = real_save
        app.associate(user, uscc, "user")
        return real_save(*aggregates, **kw)

    app.save = save_after_rival
    assert raises_code(app.associate, user, uscc, "user") == e.ALREADY_ASSOCIATED
    assert len(app.association_requests(admin, eid, "pending")["items"]) == 1


def test_racing_applications_of_two_users_both_succeed(app):
    admin, eid, uscc = registered(app)
    real_save = app.save

    def save_after_rival(*aggregates, **kw):
        app.save = real_save
        app.associate(uid(), uscc, "user")
        return real_save(*aggregates, **kw)

    app.save = save_after_rival
    assert app.associate(uid(), uscc, "user")["status"] == "pending"  # retried after the roster moved
    assert len(app.association_requests(admin, eid, "pending")["items"]) == 2


def test_members_and_requests_come_a_page_at_a_time_and_a_cursor_serves_its_own_enterprise_only(app):
    admin, eid, uscc = registered(app)
    joined = [member(app, admin, uscc, f"成员{chr(0x4e00 + n)}")[0] for n in range(5)]
    pending = [app.associate(uid(), uscc, "user", user_name="申请人")["association_id"] for _ in range(3)]

    def every_page(fetch, limit):
        items, cursor = [], None
        while True:
            page = fetch(limit=limit, cursor=cursor)
            assert len(page["items"]) <= limit
            items += page["items"]
            if (cursor := page["next_cursor"]) is None:
                return items

    members = every_page(lambda **kw: app.members(admin, eid, **kw), 2)
    assert [m["user_id"] for m in members] == [admin, *joined]  # the administrator first, then oldest first
    requests_ = every_page(lambda **kw: app.association_requests(admin, eid, **kw), 3)
    assert len(requests_) == 8 and [r["association_id"] for r in requests_[:3]] == pending[::-1]  # newest first
    assert every_page(lambda **kw: app.association_requests(admin, eid, "pending", **kw), 1) == requests_[:3]

    other_admin, other_eid, other_uscc = registered(app)
    for _ in range(2):
        member(app, other_admin, other_uscc)
    theirs = app.members(other_admin, other_eid, limit=1)["next_cursor"]
    mine = app.members(admin, eid, limit=1)["next_cursor"]
    for fetch, cursor in ((app.members, theirs), (app.association_requests, mine),
                          (app.members, app.association_requests(other_admin, other_eid, limit=1)["next_cursor"])):
        assert raises_code(fetch, admin, eid, cursor=cursor) == e.VALIDATION_ERROR
    for limit in (0, 201, "x"):
        assert raises_code(app.members, admin, eid, limit=limit) == e.VALIDATION_ERROR
    assert raises_code(app.members, other_admin, eid, cursor=mine) == e.FORBIDDEN  # the cursor opens nothing

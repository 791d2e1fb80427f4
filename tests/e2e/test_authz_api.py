"""Business-system permissions over HTTP against the launched platform (identity, notify,
enterprise, authz, gateway as processes): real users, a real enterprise, real events."""
import time
import uuid

import pytest

from tests.e2e.certification import certify
from tests.factories import new_id_number, new_mobile, new_uscc
from tests.sms import latest_code
from tests.support import http_error

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NEEDED = {"identity", "notify", "enterprise", "card", "authz", "gateway"}
PASSWORD = "Eport#Permissions2024"
NAMES = iter(["王海关", "李申报", "张舱单", "赵外人", "钱新任", "孙员工"] * 20)


@pytest.fixture(scope="module", autouse=True)
def _needs_the_services(platform):
    missing = NEEDED - set(platform.services)
    if missing:
        pytest.skip(f"services not deployed in this run: {sorted(missing)}")


def ok(resp, status):
    assert resp.status_code == status, f"{resp.request.method} {resp.request.url}: {resp.status_code} {resp.text}"
    return resp.json() if resp.content else None


def register_and_login(api):
    mobile, id_number, name = new_mobile(), new_id_number(), next(NAMES)
    ok(api.post("/api/v1/sms-codes", json={"mobile": mobile, "purpose": "register"}), 202)
    user = ok(api.post("/api/v1/users", json={"name": name, "id_type": "resident_id", "id_number": id_number,
                                              "mobile": mobile, "sms_code": latest_code(mobile, "register")}), 201)
    ok(api.put(f"/api/v1/users/{user['user_id']}/password",
               json={"password": PASSWORD, "password_setup_token": user["password_setup_token"]}), 204)
    session = ok(api.post("/api/v1/sessions", json={"method": "password", "account": mobile,
                                                    "password": PASSWORD}), 201)
    return {"user_id": user["user_id"], "token": session["access_token"], "name": name, "id_number": id_number}


def eventually(fn, timeout=15, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def perms(eid, user):
    return f"/api/v1/enterprises/{eid}/members/{user['user_id']}/permissions"


def check(api, asker, user, eid, system):
    return api.get("/api/v1/authz/check", token=asker["token"],
                   params={"user_id": user["user_id"], "enterprise_id": eid, "system": system})


def enterprise_of(api, admin, members):
    """`admin` registers a new enterprise and certifies the role with its legal-person card; each of
    `members` applies and is approved."""
    uscc = new_uscc()
    created = ok(api.post("/api/v1/associations", token=admin["token"], json={
        "uscc": uscc, "role": "admin", "name": f"宁波口岸测试{uuid.uuid4().hex[:4]}有限公司",
        "address": "浙江省宁波市北仑区", "business_scope": "进出口贸易"}), 201)
    eid = created["enterprise_id"]
    certify(api, admin["token"], admin["user_id"], eid, uscc, admin["name"], admin["id_number"])
    for member in members:
        request = ok(api.post("/api/v1/associations", token=member["token"], json={"uscc": uscc, "role": "user"}), 202)
        ok(api.post(f"/api/v1/association-requests/{request['association_id']}/approve", token=admin["token"]), 200)
    for member in members:  # authz learns the memberships from the enterprise events
        eventually(lambda member=member: api.put(perms(eid, member), token=admin["token"],
                                                 json={"systems": []}).status_code == 200,
                   what="authz to learn the membership")
    return eid


@pytest.fixture(scope="module")
def people(api, _needs_the_services):
    return {role: register_and_login(api) for role in ("admin", "member", "other", "outsider")}


@pytest.fixture(scope="module")
def eid(api, people):
    return enterprise_of(api, people["admin"], [people["member"], people["other"]])


def test_systems_catalogue(api):
    items = ok(api.get("/api/v1/systems"), 200)["items"]
    names = {i["name"] for i in items}
    assert {"货物申报", "舱单申报", "加工贸易", "跨境电商", "出口退税", "原产地证", "运输工具", "保税物流"} <= names


def test_manual_story_grant_check_revoke(api, people, eid):
    admin, member = people["admin"], people["member"]
    assert ok(check(api, member, member, eid, "cargo_declaration"), 200) == {"allowed": False}
    body = ok(api.put(perms(eid, member), token=admin["token"],
                      json={"systems": ["cargo_declaration", "manifest"]}), 200)
    assert body["systems"] == ["cargo_declaration", "manifest"]
    # visible as soon as the PUT returned
    assert ok(check(api, member, member, eid, "cargo_declaration"), 200) == {"allowed": True}
    assert ok(api.get(perms(eid, member), token=member["token"]), 200)["systems"] == ["cargo_declaration", "manifest"]
    ok(api.put(perms(eid, member), token=admin["token"], json={"systems": ["manifest"]}), 200)
    assert ok(check(api, member, member, eid, "cargo_declaration"), 200) == {"allowed": False}
    assert ok(check(api, member, member, eid, "manifest"), 200) == {"allowed": True}


def test_admin_allowed_every_system(api, people, eid):
    admin = people["admin"]
    for code in ("processing_trade", "bonded_logistics", "transport_vehicle"):
        assert ok(check(api, admin, admin, eid, code), 200) == {"allowed": True}


def test_members_list_shows_systems(api, people, eid):
    admin, other = people["admin"], people["other"]
    ok(api.put(perms(eid, other), token=admin["token"], json={"systems": ["export_tax_rebate"]}), 200)
    items = ok(api.get(f"/api/v1/enterprises/{eid}/members", token=admin["token"]), 200)["items"]
    by_user = {i["user_id"]: i for i in items}
    assert by_user[other["user_id"]]["systems"] == ["export_tax_rebate"]
    assert "bonded_logistics" in by_user[admin["user_id"]]["systems"]


@pytest.mark.parametrize("asker, status", [("admin", 200), ("member", 200), ("other", 403), ("outsider", 403)])
def test_get_permissions_matrix(api, people, eid, asker, status):
    r = api.get(perms(eid, people["member"]), token=people[asker]["token"])
    if status == 200:
        assert "systems" in ok(r, 200)
    else:
        assert_error(r, status, "FORBIDDEN")


@pytest.mark.parametrize("asker", ["member", "other", "outsider"])
def test_only_the_admin_puts(api, people, eid, asker):
    r = api.put(perms(eid, people["other"]), token=people[asker]["token"], json={"systems": ["transport_vehicle"]})
    assert_error(r, 403, "FORBIDDEN")
    assert ok(check(api, people["admin"], people["other"], eid, "transport_vehicle"), 200) == {"allowed": False}


@pytest.mark.parametrize("asker, subject, status", [
    ("member", "member", 200), ("admin", "member", 200), ("other", "member", 403), ("outsider", "member", 403)])
def test_check_matrix(api, people, eid, asker, subject, status):
    r = check(api, people[asker], people[subject], eid, "manifest")
    assert r.status_code == status, r.text


def test_without_token_401(api, people, eid):
    assert api.get(perms(eid, people["member"])).status_code == 401
    assert api.put(perms(eid, people["member"]), json={"systems": []}).status_code == 401
    assert api.get("/api/v1/authz/check", params={"user_id": "x", "enterprise_id": eid, "system": "manifest"}
                   ).status_code == 401


def test_unknown_system_and_non_member_are_4xx(api, people, eid):
    admin = people["admin"]
    r = api.put(perms(eid, people["member"]), token=admin["token"], json={"systems": ["time_travel"]})
    assert_error(r, 400, "UNKNOWN_SYSTEM")
    assert "systems" in http_error(r)["details"]
    r = api.put(perms(eid, people["member"]), token=admin["token"], json={"systems": "manifest"})
    assert_error(r, 400, "VALIDATION_ERROR")
    r = api.put(perms(eid, people["outsider"]), token=admin["token"], json={"systems": ["manifest"]})
    assert_error(r, 409, "NOT_A_MEMBER")


def test_admin_transfer(api, people):
    old, new = register_and_login(api), register_and_login(api)
    staff = register_and_login(api)
    eid2 = enterprise_of(api, old, [new, staff])
    ok(api.put(perms(eid2, old), token=old["token"], json={"systems": ["certificate_of_origin"]}), 200)
    ok(api.put(f"/api/v1/enterprises/{eid2}/admin", token=old["token"], json={"user_id": new["user_id"]}), 200)
    eventually(lambda: ok(check(api, new, new, eid2, "bonded_logistics"), 200)["allowed"], what="the new admin")
    assert ok(check(api, old, old, eid2, "certificate_of_origin"), 200) == {"allowed": True}
    assert ok(check(api, old, old, eid2, "bonded_logistics"), 200) == {"allowed": False}
    assert_error(api.put(perms(eid2, staff), token=old["token"], json={"systems": ["manifest"]}), 403, "FORBIDDEN")
    ok(api.put(perms(eid2, staff), token=new["token"], json={"systems": ["manifest"]}), 200)
    assert ok(check(api, new, staff, eid2, "manifest"), 200) == {"allowed": True}


def assert_error(resp, status, code):
    assert resp.status_code == status, resp.text
    assert http_error(resp)["code"] == code

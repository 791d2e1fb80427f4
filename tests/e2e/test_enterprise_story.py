"""The manual's story over HTTP (1.2 关联企业 and 1.5 企业管理员账户变更): an administrator registers
an enterprise the registry knows, another one registers by hand, a user applies, the administrator
approves from the inbox, hands the administrator role over, and can no longer approve."""
import pytest

from tests.e2e.certification import certify
from tests.e2e.enterprise_people import (
    MANUAL, apply, messages, register, register_enterprise, unknown_uscc, wait_for,
)
from tests.support import http_error

pytestmark = pytest.mark.e2e

KNOWN = "913300007458363392"


def test_the_manual_s_story(api):
    admin, other_admin, newcomer, late = (register(api) for _ in range(4))

    # 1.2: look the enterprise up (查询企业) and associate as its administrator: certified.
    r = api.get(f"/api/v1/enterprise-registry/{KNOWN}", token=admin.token)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "浙江电子口岸有限公司"
    assert r.json()["address"] == "杭州市上城区" and r.json()["business_scope"] == "信息服务"
    assert r.json()["registered"] is False
    r = api.post("/api/v1/associations", token=admin.token, json={"uscc": KNOWN, "role": "admin"})
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "admin" and r.json()["status"] == "approved"
    eid = r.json()["enterprise_id"]
    ent = api.get(f"/api/v1/enterprises/{eid}", token=admin.token).json()
    assert ent == {"enterprise_id": eid, "uscc": KNOWN, "name": "浙江电子口岸有限公司", "address": "杭州市上城区",
                   "business_scope": "信息服务", "certified": True, "admin_user_id": admin.user_id,
                   "admin_role_certified": False, "from_registry": True, "registered_at": ent["registered_at"]}
    # 1.3: the administrator binds the enterprise's legal-person card (法人卡): 角色认证 已认证.
    certify(api, admin.token, admin.user_id, eid, KNOWN, admin.name, admin.id_number)
    assert api.get(f"/api/v1/enterprises/{eid}", token=admin.token).json()["admin_role_certified"] is True
    assert api.get(f"/api/v1/enterprise-registry/{KNOWN}", token=newcomer.token).json()["registered"] is True

    # Not in the registry (未查询到企业, 可手动填写信息): typed in by hand, not certified.
    uscc = unknown_uscc()
    r = api.get(f"/api/v1/enterprise-registry/{uscc}", token=other_admin.token)
    assert r.status_code == 404 and http_error(r)["code"] == "ENTERPRISE_NOT_FOUND"
    r = api.post("/api/v1/associations", token=other_admin.token, json={"uscc": uscc, "role": "admin"})
    assert r.status_code == 400 and set(http_error(r)["details"]) == {"name", "address", "business_scope"}
    other_eid, _ = register_enterprise(api, other_admin, uscc, certify_role=False)
    other = api.get(f"/api/v1/enterprises/{other_eid}", token=other_admin.token).json()
    assert other["certified"] is False and other["name"] == MANUAL["name"]

    # 1.5: the new person associates as an enterprise user (企业用户): pending.
    request_id = apply(api, newcomer, KNOWN)
    me = api.get("/api/v1/me", token=newcomer.token).json()
    assert me["user_id"] == newcomer.user_id and me["name"] == newcomer.name
    assert me["mobile_masked"] == newcomer.mobile[:3] + "****" + newcomer.mobile[-4:]
    assert [(a["enterprise_name"], a["uscc"], a["role"], a["status"], a["card"]) for a in me["associations"]] == [
        ("浙江电子口岸有限公司", KNOWN, "user", "pending", None)]
    assert api.get(f"/api/v1/enterprises/{eid}", token=newcomer.token).status_code == 403

    # The administrator finds it among the message reminders (消息提醒) and approves (审核通过).
    inbox = wait_for(lambda: messages(api, admin, unread=True)["items"])
    [msg] = [m for m in inbox if m["kind"] == "association_requested"]
    assert msg["data"]["association_id"] == request_id and newcomer.name not in msg["body"]  # the list names them
    assert messages(api, admin, unread=True)["unread_count"] >= 1
    pending = api.get(f"/api/v1/enterprises/{eid}/association-requests?status=pending", token=admin.token).json()
    assert [(p["association_id"], p["user_id"], p["name"], p["status"]) for p in pending["items"]] == [
        (request_id, newcomer.user_id, newcomer.name, "pending")]
    assert "****" in pending["items"][0]["mobile_masked"]
    r = api.post(f"/api/v1/association-requests/{msg['data']['association_id']}/approve", token=admin.token)
    assert r.status_code == 200 and r.json() == {"association_id": request_id, "status": "approved"}
    assert api.post(f"/api/v1/messages/{msg['message_id']}/read", token=admin.token).status_code == 204
    assert all(m["message_id"] != msg["message_id"] for m in messages(api, admin, unread=True)["items"])
    told = wait_for(lambda: messages(api, newcomer)["items"])
    assert told[0]["kind"] == "association_approved" and "审核通过" in told[0]["body"]
    assert api.get(f"/api/v1/enterprises/{eid}", token=newcomer.token).status_code == 200

    # 变更企业管理员账号: pick the new administrator from the enterprise's accounts.
    members = api.get(f"/api/v1/enterprises/{eid}/members", token=admin.token).json()["items"]
    assert {(m["user_id"], m["role"], m["status"]) for m in members} == {
        (admin.user_id, "admin", "approved"), (newcomer.user_id, "user", "approved")}
    assert all(isinstance(m["systems"], list) for m in members)
    assert {m["user_id"]: (m["card"] or {}).get("card_type") for m in members} == {
        admin.user_id: "legal_person", newcomer.user_id: None}
    assert {m["user_id"]: m["role_certified"] for m in members} == {admin.user_id: True, newcomer.user_id: False}
    r = api.put(f"/api/v1/enterprises/{eid}/admin", token=admin.token, json={"user_id": newcomer.user_id})
    assert r.status_code == 200 and r.json() == {"enterprise_id": eid, "admin_user_id": newcomer.user_id}
    for person, words in ((newcomer, "企业管理员"), (admin, "企业用户")):
        got = wait_for(lambda person=person: [m for m in messages(api, person)["items"]
                                              if m["kind"] == "admin_transferred"])
        assert words in got[0]["body"]
    mine = api.get("/api/v1/me", token=admin.token).json()["associations"]
    roles = {a["enterprise_id"]: (a["role"], a["status"]) for a in mine}
    assert roles[eid] == ("user", "approved")

    # The former administrator can no longer approve; the new one can.
    late_request = apply(api, late, KNOWN)
    r = api.post(f"/api/v1/association-requests/{late_request}/approve", token=admin.token)
    assert r.status_code == 403 and http_error(r)["code"] == "FORBIDDEN"
    assert api.get(f"/api/v1/enterprises/{eid}/members", token=admin.token).status_code == 403
    wait_for(lambda: [m for m in messages(api, newcomer, unread=True)["items"] if m["kind"] == "association_requested"])
    r = api.post(f"/api/v1/association-requests/{late_request}/reject", token=newcomer.token,
                 json={"reason": "不是本企业员工"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    rejected = wait_for(lambda: messages(api, late)["items"])
    assert rejected[0]["kind"] == "association_rejected" and "不是本企业员工" in rejected[0]["body"]
    assert apply(api, late, KNOWN)  # a rejected user may apply again

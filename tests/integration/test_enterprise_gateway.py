"""The gateway's enterprise, message and /me routes in-process, against the real enterprise and
inbox services and a fake identity service (the e2e tests use the real one)."""
import uuid

import pytest
import requests
from nameko.standalone.rpc import ServiceRpcProxy

from gateway.service import GatewayService
from services.enterprise.service import EnterpriseService
from tests.factories import new_uscc
from tests.integration.enterprise_fakes import FakeIdentity, InboxOnlyNotify
from tests.support import free_port, wait_for, http_error

pytestmark = pytest.mark.integration


class Client:
    def __init__(self, base):
        self.base = base

    def __call__(self, method, path, user=None, **kwargs):
        headers = {"Authorization": f"Bearer {FakeIdentity.token(user)}"} if user else {}
        return requests.request(method, self.base + path, headers=headers, timeout=20, **kwargs)


@pytest.fixture
def http(fresh_var, runner_factory, config):
    port = free_port()
    cfg = dict(config, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}")
    runner = runner_factory(cfg, GatewayService, EnterpriseService, FakeIdentity, InboxOnlyNotify)
    runner.start()
    client = Client(f"http://127.0.0.1:{port}")
    client.config = cfg
    return client




def test_association_flow_over_http(http):
    admin, applicant = FakeIdentity.add("王管理"), FakeIdentity.add("李申请")
    r = http("GET", "/api/v1/enterprise-registry/913300007458363392", admin)
    assert r.status_code == 200 and r.json()["name"] == "浙江电子口岸有限公司" and r.json()["registered"] is False
    r = http("POST", "/api/v1/associations", admin, json={"uscc": "913300007458363392", "role": "admin"})
    assert r.status_code == 201, r.text
    eid = r.json()["enterprise_id"]
    assert r.json() == {"association_id": r.json()["association_id"], "enterprise_id": eid, "role": "admin",
                        "status": "approved"}
    r = http("POST", "/api/v1/associations", applicant, json={"uscc": "913300007458363392", "role": "user"})
    assert r.status_code == 202 and r.json()["status"] == "pending"

    msgs = wait_for(lambda: http("GET", "/api/v1/messages?unread=true", admin).json()["items"])
    assert msgs[0]["kind"] == "association_requested"
    r = http("POST", f"/api/v1/association-requests/{msgs[0]['data']['association_id']}/approve", admin)
    assert r.status_code == 403 and http_error(r)["code"] == "ROLE_NOT_CERTIFIED"  # 角色认证 first
    assert http("GET", f"/api/v1/enterprises/{eid}", admin).json()["admin_role_certified"] is False
    with ServiceRpcProxy("enterprise", http.config) as enterprise:  # as the card service, once the 法人卡 is bound
        enterprise.certify_card(admin, eid, admin_association(http, admin, eid), "8800000000001", "legal_person",
                                "913300007458363392")
    assert http("GET", f"/api/v1/enterprises/{eid}", admin).json()["admin_role_certified"] is True
    requests_ = http("GET", f"/api/v1/enterprises/{eid}/association-requests?status=pending", admin).json()["items"]
    assert [(x["name"], x["mobile_masked"], x["status"]) for x in requests_] == [("李申请", "133****6117", "pending")]
    r = http("POST", f"/api/v1/association-requests/{msgs[0]['data']['association_id']}/approve", admin)
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert http("POST", f"/api/v1/messages/{msgs[0]['message_id']}/read", applicant).status_code == 404
    assert http("POST", f"/api/v1/messages/{msgs[0]['message_id']}/read", admin).status_code == 204
    assert http("GET", "/api/v1/messages?unread=true", admin).json()["unread_count"] == 0

    r = http("GET", f"/api/v1/enterprises/{eid}/members", admin)
    assert r.status_code == 200, r.text
    members = r.json()["items"]
    assert [(m["name"], m["role"], m["card"], m["systems"]) for m in members] == [
        ("王管理", "admin", None, []), ("李申请", "user", None, [])]
    assert [m["role_certified"] for m in members] == [True, False]
    me = http("GET", "/api/v1/me", applicant).json()
    assert me["name"] == "李申请" and me["mobile_masked"] == "133****6117"
    assert [(a["enterprise_name"], a["uscc"], a["role"], a["status"], a["card"]) for a in me["associations"]] == [
        ("浙江电子口岸有限公司", "913300007458363392", "user", "approved", None)]

    r = http("PUT", f"/api/v1/enterprises/{eid}/admin", admin, json={"user_id": applicant})
    assert r.status_code == 200 and r.json() == {"enterprise_id": eid, "admin_user_id": applicant}
    assert http("GET", f"/api/v1/enterprises/{eid}", admin).json()["admin_user_id"] == applicant
    assert http("DELETE", f"/api/v1/enterprises/{eid}/members/{admin}", applicant).status_code == 204
    assert http("GET", f"/api/v1/enterprises/{eid}", admin).status_code == 403


def admin_association(http, admin, eid):
    return next(a["association_id"] for a in http("GET", "/api/v1/me", admin).json()["associations"]
                if a["enterprise_id"] == eid)


def test_errors_name_the_field_and_keep_the_api_s_shape(http):
    user = FakeIdentity.add()
    r = http("POST", "/api/v1/associations", user, json={"uscc": "913300007458363393", "role": "boss"})
    assert r.status_code == 400
    assert http_error(r)["code"] == "VALIDATION_ERROR" and set(http_error(r)["details"]) == {"uscc", "role"}
    r = http("POST", "/api/v1/associations", user, json={"uscc": new_uscc(), "role": "admin", "name": "某公司"})
    assert r.status_code == 400 and set(http_error(r)["details"]) == {"address", "business_scope"}
    r = http("GET", "/api/v1/enterprise-registry/91330000745836339a", user)
    assert r.status_code == 400 and "uscc" in http_error(r)["details"]
    assert http("GET", "/api/v1/enterprise-registry/913300007458363392").status_code == 401
    r = requests.get(http.base + "/api/v1/me", headers={"Authorization": "Bearer not-a-token"}, timeout=20)
    assert r.status_code == 401 and http_error(r)["code"] == "UNAUTHENTICATED"
    r = http("PUT", f"/api/v1/enterprises/{uuid.uuid4()}/admin", user, json={"user_id": user})
    assert r.status_code == 404 and http_error(r)["code"] == "ENTERPRISE_NOT_FOUND"
    r = http("PUT", "/api/v1/enterprises/nope/admin", user, json={"user_id": user})
    assert r.status_code == 400 and "enterprise_id" in http_error(r)["details"]


def test_openapi_lists_the_routes(http):
    paths = http("GET", "/openapi.json").json()["paths"]
    for path in ("/api/v1/enterprise-registry/{uscc}", "/api/v1/associations", "/api/v1/enterprises/{enterprise_id}",
                 "/api/v1/enterprises/{enterprise_id}/members",
                 "/api/v1/enterprises/{enterprise_id}/association-requests",
                 "/api/v1/association-requests/{association_id}/approve",
                 "/api/v1/association-requests/{association_id}/reject", "/api/v1/enterprises/{enterprise_id}/admin",
                 "/api/v1/messages", "/api/v1/messages/{message_id}/read", "/api/v1/me"):
        assert path in paths

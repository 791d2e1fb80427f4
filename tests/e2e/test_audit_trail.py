"""The enterprise audit trail over HTTP against the launched platform: what its administrator
sees of the enterprise and of its members' accounts, and who may look."""
import pytest

from tests.e2e.conftest import skip_unless_deployed
from tests.e2e.enterprise_people import PASSWORD, apply, approve, register, register_enterprise, wait_for
from tests.e2e.enterprise_people import audit_trail as trail
from tests.support import http_error

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NEEDED = {"identity", "notify", "enterprise", "authz", "audit", "gateway"}


@pytest.fixture(scope="module", autouse=True)
def _needs_the_services(platform):
    skip_unless_deployed(platform, NEEDED)


def test_the_administrator_sees_the_enterprise_and_its_members_logins(api):
    admin, member, outsider = register(api), register(api), register(api)
    eid, uscc = register_enterprise(api, admin)
    approve(api, admin, apply(api, member, uscc))
    # Wait until the audit knows the membership, then the member's account does something.
    wait_for(lambda: any(i["event_type"] == "AssociationApproved" and i["subject"] == member.user_id
                         for i in trail(api, admin, eid)))
    r = api.post("/api/v1/sessions", json={"method": "password", "account": member.mobile, "password": "wrong pass 1"})
    assert r.status_code == 401
    r = api.post("/api/v1/sessions", json={"method": "password", "account": member.mobile, "password": PASSWORD})
    assert r.status_code == 201
    r = api.put(f"/api/v1/enterprises/{eid}/members/{member.user_id}/permissions", token=admin.token,
                json={"systems": ["manifest"]})
    assert r.status_code == 200, r.text

    def of_member():
        items = trail(api, admin, eid, user_id=member.user_id)
        kinds = [i["event_type"] for i in items]
        return kinds if {"LoginFailed", "UserLoggedIn", "PermissionGranted"} <= set(kinds) else None

    kinds = wait_for(of_member)
    # The member's registration and first login came before the membership: not the enterprise's.
    assert "UserRegistered" not in kinds and kinds.count("UserLoggedIn") == 1
    assert kinds.index("UserLoggedIn") < kinds.index("LoginFailed")  # newest first
    everything = trail(api, admin, eid, limit=200)
    assert {i["subject"] for i in everything} >= {admin.user_id, member.user_id}
    assert outsider.user_id not in {i["subject"] for i in everything}
    assert all("id_number" not in i["payload"] and "mobile" not in i["payload"] for i in everything)
    logins = trail(api, admin, eid, event_type="UserLoggedIn", user_id=member.user_id)
    assert [i["payload"]["method"] for i in logins] == ["password"]


def test_only_the_administrator_reads_it_and_bad_queries_name_the_field(api):
    admin, member = register(api), register(api)
    eid, uscc = register_enterprise(api, admin)
    approve(api, admin, apply(api, member, uscc))
    r = api.get(f"/api/v1/enterprises/{eid}/audit-events", token=member.token)
    assert r.status_code == 403 and http_error(r)["code"] == "FORBIDDEN"
    r = api.get(f"/api/v1/enterprises/{eid}/audit-events")
    assert r.status_code == 401
    for params, field in (({"since": "yesterday"}, "since"), ({"limit": "0"}, "limit"),
                          ({"limit": "many"}, "limit")):
        r = api.get(f"/api/v1/enterprises/{eid}/audit-events", token=admin.token, params=params)
        assert r.status_code == 400, r.text
        assert field in http_error(r)["details"], r.text

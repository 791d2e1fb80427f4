"""Simultaneous requests over HTTP: of two approvals of one request, or two identical
administrator transfers, or two registrations of one USCC, or two applications of one user,
exactly one succeeds and the other gets 409 — never both."""
import eventlet
import pytest

from tests.e2e.enterprise_people import MANUAL, apply, approve, register, register_enterprise, unknown_uscc

pytestmark = pytest.mark.e2e

ROUNDS = 3


def at_once(*requests_):
    pool = eventlet.GreenPool()
    return sorted(r.status_code for r in pool.imap(lambda fn: fn(), requests_))


def test_two_approvals_of_one_request(api):
    admin = register(api)
    eid, uscc = register_enterprise(api, admin)
    for _ in range(ROUNDS):
        applicant = register(api)
        request_id = apply(api, applicant, uscc)
        def post(request_id=request_id):
            return api.post(f"/api/v1/association-requests/{request_id}/approve", token=admin.token)
        assert at_once(post, post) == [200, 409]
    members = api.get(f"/api/v1/enterprises/{eid}/members", token=admin.token).json()["items"]
    assert len(members) == 1 + ROUNDS


def test_two_identical_admin_transfers(api):
    for _ in range(ROUNDS):
        admin, successor = register(api), register(api)
        eid, uscc = register_enterprise(api, admin)
        approve(api, admin, apply(api, successor, uscc))
        body = {"user_id": successor.user_id}
        def put(eid=eid, admin=admin, body=body):
            return api.put(f"/api/v1/enterprises/{eid}/admin", token=admin.token, json=body)
        assert at_once(put, put) == [200, 409]
        members = api.get(f"/api/v1/enterprises/{eid}/members", token=successor.token).json()["items"]
        assert sorted(m["role"] for m in members) == ["admin", "user"]


def test_two_registrations_of_one_uscc(api):
    uscc = unknown_uscc()
    a, b = register(api), register(api)
    body = {"uscc": uscc, "role": "admin", **MANUAL}
    results = at_once(lambda: api.post("/api/v1/associations", token=a.token, json=body),
                      lambda: api.post("/api/v1/associations", token=b.token, json=body))
    assert results == [201, 409]
    admins = [p for p in (a, b) if api.get("/api/v1/me", token=p.token).json()["associations"]]
    assert len(admins) == 1


def test_two_applications_of_one_user(api):
    admin, user = register(api), register(api)
    eid, uscc = register_enterprise(api, admin)
    def post():
        return api.post("/api/v1/associations", token=user.token, json={"uscc": uscc, "role": "user"})
    assert at_once(post, post) == [202, 409]
    pending = api.get(f"/api/v1/enterprises/{eid}/association-requests?status=pending", token=admin.token).json()
    assert len(pending["items"]) == 1

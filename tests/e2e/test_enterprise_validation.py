"""Bad input to the enterprise endpoints: a 4xx naming the field at fault, and nothing stored."""
import uuid

import pytest

from tests.e2e.enterprise_people import MANUAL, apply, register, register_enterprise, unknown_uscc
from tests.support import http_error

pytestmark = pytest.mark.e2e

VALID = "913300007458363392"
BAD_USCCS = {
    "check character": "913300007458363393",
    "17 characters": "91330000745836339",
    "19 characters": "9133000074583633920",
    "letter I": "91330000I45836339X",
    "letter O": "91330000O45836339X",
    "letter Z": "91330000Z45836339X",
    "letter S": "91330000S45836339X",
    "letter V": "91330000V45836339X",
    "lower case": "9133010874936536xp",
    "blank": "                  ",
}


@pytest.fixture(scope="module")
def person(api):
    return register(api)


@pytest.mark.parametrize("bad", BAD_USCCS.values(), ids=BAD_USCCS.keys())
def test_bad_uscc_is_400_naming_it_and_stores_nothing(api, person, bad):
    r = api.get(f"/api/v1/enterprise-registry/{bad}", token=person.token)
    assert "uscc" in http_error(r, 400, "VALIDATION_ERROR")["details"]
    for role in ("admin", "user"):
        r = api.post("/api/v1/associations", token=person.token, json={"uscc": bad, "role": role, **MANUAL})
        assert "uscc" in http_error(r, 400, "VALIDATION_ERROR")["details"]
    assert api.get("/api/v1/me", token=person.token).json()["associations"] == []


def test_missing_or_blank_manual_fields_are_named_and_nothing_is_registered(api, person):
    uscc = unknown_uscc()
    cases = [({}, {"name", "address", "business_scope"}),
             ({"name": "某某公司"}, {"address", "business_scope"}),
             ({"name": "某某公司", "address": "   ", "business_scope": "贸易"}, {"address"}),
             ({"name": None, "address": "杭州", "business_scope": "贸易"}, {"name"})]
    for fields, missing in cases:
        r = api.post("/api/v1/associations", token=person.token, json={"uscc": uscc, "role": "admin", **fields})
        assert set(http_error(r, 400, "VALIDATION_ERROR")["details"]) == missing
    http_error(api.get(f"/api/v1/enterprise-registry/{uscc}", token=person.token), 404, "ENTERPRISE_NOT_FOUND")
    assert api.get("/api/v1/me", token=person.token).json()["associations"] == []
    other = register(api)  # the USCC is still free: someone can register it with every field
    register_enterprise(api, other, uscc)


def test_other_bad_bodies(api, person):
    r = api.post("/api/v1/associations", token=person.token, json={"uscc": VALID, "role": "owner"})
    assert set(http_error(r, 400, "VALIDATION_ERROR")["details"]) == {"role"}
    r = api.post("/api/v1/associations", token=person.token, json={"role": "user"})
    assert set(http_error(r, 400, "VALIDATION_ERROR")["details"]) == {"uscc"}
    r = api.post("/api/v1/associations", token=person.token, data="{not json",
                 headers={"Content-Type": "application/json"})
    assert "body" in http_error(r, 400, "VALIDATION_ERROR")["details"]
    r = api.post("/api/v1/associations", token=person.token, json={"uscc": unknown_uscc(), "role": "admin",
                                                                  **dict(MANUAL, name="名" * 101)})
    assert set(http_error(r, 400, "VALIDATION_ERROR")["details"]) == {"name"}
    assert api.get("/api/v1/me", token=person.token).json()["associations"] == []


def test_role_user_of_an_unregistered_enterprise(api, person):
    r = api.post("/api/v1/associations", token=person.token, json={"uscc": unknown_uscc(), "role": "user"})
    assert "uscc" in http_error(r, 404, "ENTERPRISE_NOT_REGISTERED")["details"]
    assert api.get("/api/v1/me", token=person.token).json()["associations"] == []


def test_unknown_ids(api):
    admin = register(api)
    eid, uscc = register_enterprise(api, admin)
    t = admin.token
    # an id that names nothing is 404; one that is not a canonical UUID never reaches a service: 400
    for unknown, status, code in ((str(uuid.uuid4()), 404, None), ("not-an-id", 400, "VALIDATION_ERROR"),
                                  (str(uuid.uuid4()).upper(), 400, "VALIDATION_ERROR")):
        assert "enterprise_id" in http_error(api.get(f"/api/v1/enterprises/{unknown}", token=t), status,
                                        code or "ENTERPRISE_NOT_FOUND")["details"]
        r = api.get(f"/api/v1/enterprises/{unknown}/members", token=t)
        assert "enterprise_id" in http_error(r, status, code or "ENTERPRISE_NOT_FOUND")["details"]
        r = api.put(f"/api/v1/enterprises/{unknown}/admin", token=t, json={"user_id": admin.user_id})
        assert "enterprise_id" in http_error(r, status, code or "ENTERPRISE_NOT_FOUND")["details"]
        for verb in ("approve", "reject"):
            r = api.post(f"/api/v1/association-requests/{unknown}/{verb}", token=t)
            assert "association_id" in http_error(r, status, code or "ASSOCIATION_NOT_FOUND")["details"]
        r = api.post(f"/api/v1/messages/{unknown}/read", token=t)
        assert "message_id" in http_error(r, status, code or "MESSAGE_NOT_FOUND")["details"]
        r = api.put(f"/api/v1/enterprises/{eid}/admin", token=t, json={"user_id": unknown})
        assert "user_id" in http_error(r, 409 if status == 404 else 400, code or "NOT_A_MEMBER")["details"]
    r = api.put(f"/api/v1/enterprises/{eid}/admin", token=t, json={})
    assert "user_id" in http_error(r, 400, "VALIDATION_ERROR")["details"]
    r = api.get(f"/api/v1/enterprises/{eid}/association-requests?status=maybe", token=t)
    assert "status" in http_error(r, 400, "VALIDATION_ERROR")["details"]
    r = api.post(f"/api/v1/association-requests/{apply(api, register(api), uscc)}/reject", token=t,
                 json={"reason": "x" * 501})
    assert "reason" in http_error(r, 400, "VALIDATION_ERROR")["details"]
    ent = api.get(f"/api/v1/enterprises/{eid}", token=t).json()
    assert ent["admin_user_id"] == admin.user_id


def test_conflicts(api):
    admin, user = register(api), register(api)
    eid, uscc = register_enterprise(api, admin)
    http_error(api.post("/api/v1/associations", token=user.token, json={"uscc": uscc, "role": "admin", **MANUAL}),
          409, "ENTERPRISE_HAS_ADMIN")["details"]
    request_id = apply(api, user, uscc)
    r = api.post("/api/v1/associations", token=user.token, json={"uscc": uscc, "role": "user"})
    http_error(r, 409, "ALREADY_ASSOCIATED")["details"]
    r = api.put(f"/api/v1/enterprises/{eid}/admin", token=admin.token, json={"user_id": user.user_id})
    assert "user_id" in http_error(r, 409, "NOT_A_MEMBER")["details"]  # pending is not a member yet
    assert api.post(f"/api/v1/association-requests/{request_id}/reject", token=admin.token).status_code == 200
    http_error(api.post(f"/api/v1/association-requests/{request_id}/approve", token=admin.token), 409, "NOT_PENDING")
    http_error(api.post(f"/api/v1/association-requests/{request_id}/reject", token=admin.token), 409, "NOT_PENDING")

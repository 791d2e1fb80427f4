"""X-Request-ID end to end: the gateway takes or makes it and echoes it; every event the request
causes carries it as correlation_id, in the service it called and in the services reacting to
those events; the audit log finds them by it (audit endpoint, audit.events RPC, eport audit)."""
import io
import json
import os
import uuid

import pytest

from deploy.eport import cli as eport
from tests.e2e.certification import certify
from tests.e2e.conftest import skip_unless_deployed
from tests.e2e.enterprise_people import MANUAL, apply, register, unknown_uscc, wait_for
from tests.e2e.enterprise_people import audit_trail as trail

pytestmark = [pytest.mark.e2e]

NEEDED = {"identity", "notify", "enterprise", "authz", "audit", "gateway"}


@pytest.fixture(scope="module", autouse=True)
def _needs_the_services(platform):
    skip_unless_deployed(platform, NEEDED)


def test_one_request_s_events_in_two_services_all_carry_its_id(api, monkeypatch):
    admin, applicant = register(api), register(api)
    rid = f"test-{uuid.uuid4()}"
    r = api.post("/api/v1/associations", token=admin.token, headers={"X-Request-ID": rid},
                 json={"uscc": (uscc := unknown_uscc()), "role": "admin", **MANUAL})
    assert r.status_code == 201, r.text
    assert r.headers["X-Request-ID"] == rid
    eid = r.json()["enterprise_id"]
    apply(api, applicant, uscc)  # another request's events, for the same enterprise
    # Only a certified administrator reads the trail: certify (another request) once authz has
    # reacted to the registration, whose EnterpriseAdminChanged this test looks for.
    wait_for(lambda: api.get(f"/api/v1/enterprises/{eid}/members/{admin.user_id}/permissions",
                             token=admin.token).json().get("admin"))
    certify(api, admin.token, admin.user_id, eid, uscc, admin.name, admin.id_number)

    expected = {("enterprise", "EnterpriseRegistered"), ("enterprise", "AssociationApproved"),
                ("authz", "EnterpriseAdminChanged")}  # the last one authz emits reacting to the first

    def caused():
        items = trail(api, admin, eid, correlation_id=rid)
        return items if {(i["source"], i["event_type"]) for i in items} >= expected else None

    items = wait_for(caused, timeout=20)
    assert {(i["source"], i["event_type"]) for i in items} == expected
    assert {i["correlation_id"] for i in items} == {rid}
    others = [i for i in trail(api, admin, eid) if i["event_type"] == "AssociationRequested"]
    assert others and others[0]["correlation_id"] not in (None, rid)

    # the operators' tool (`eport audit --correlation`) asks the audit service the same, across enterprises
    out = io.StringIO()
    monkeypatch.setenv("EPORT_AMQP_URI", os.environ["E2E_AMQP_URI"])
    assert eport.main(["audit", "--correlation", rid, "--json", "--limit", "50"], out=out) == 0
    items = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {(i["source"], i["event_type"]) for i in items} == expected


def test_the_gateway_makes_an_id_when_there_is_none_or_a_bad_one(api):
    for headers in ({}, {"X-Request-ID": "has space"}, {"X-Request-ID": "x" * 129}):
        r = api.get("/api/v1/systems", headers=headers)
        made = r.headers["X-Request-ID"]
        assert made != headers.get("X-Request-ID") and str(uuid.UUID(made)) == made
    r = api.get("/api/v1/no/such/path", headers={"X-Request-ID": "kept-on-errors"})  # other GETs: the console
    assert r.status_code == 404 and r.headers["X-Request-ID"] == "kept-on-errors"
    r = api.post("/api/v1/sms-codes", json={}, headers={"X-Request-ID": "kept-on-400"})
    assert r.status_code == 400 and r.headers["X-Request-ID"] == "kept-on-400"


def test_a_bad_correlation_filter_is_a_400_naming_it(api):
    admin = register(api)
    r = api.post("/api/v1/associations", token=admin.token, json={"uscc": unknown_uscc(), "role": "admin", **MANUAL})
    eid = r.json()["enterprise_id"]
    r = api.get(f"/api/v1/enterprises/{eid}/audit-events", token=admin.token, params={"correlation_id": "a b"})
    assert r.status_code == 400 and "correlation_id" in json.loads(r.text)["error"]["details"]

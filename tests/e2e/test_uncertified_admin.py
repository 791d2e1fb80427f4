"""An uncertified administrator learns nothing about people, and what was typed by hand is vouched
for by nobody (issue 20 item 6), over HTTP against the launched platform:

- whoever typed a USCC first sees neither the members nor the requests (403 ROLE_NOT_CERTIFIED), and
  no applicant's name, mobile or user id reaches them: not in the inbox, the enterprise, /me or the
  audit trail; once certified, the requests list shows who applied;
- a claim with the legal-person card replaces the details the squatter typed;
- PUT /api/v1/enterprises/{id}: only the certified administrator, never the registry's details;
- at most 3 uncertified enterprises registered by hand per account, under parallel requests too.
"""
import json

import eventlet
import pytest

from contracts.enterprise import UNCERTIFIED_BY_HAND_MAX
from tests.e2e.certification import certify, claim, new_card, prove
from tests.e2e.enterprise_people import (
    CLAIMED, MANUAL, apply, approve, messages, register, register_enterprise, unknown_uscc, wait_for,
)
from tests.support import http_error, refusal

pytestmark = pytest.mark.e2e

# In services/enterprise/data/registry.json and used by no other test (the platform is the session's).
KNOWN = "91330211505401619L"


def no_trace_of(person, *answers):
    """None of the answers holds the person's name, masked or whole mobile, or user id."""
    text = json.dumps([a.json() for a in answers], ensure_ascii=False)
    masked = person.mobile[:3] + "****" + person.mobile[-4:]
    return not any(secret in text for secret in (person.name, person.mobile, masked, person.user_id))


def test_an_uncertified_administrator_learns_nothing_about_applicants(api):
    squatter, applicant = register(api), register(api)
    eid, uscc = register_enterprise(api, squatter, certify_role=False)
    request = apply(api, applicant, uscc)
    inbox = wait_for(lambda: [m for m in messages(api, squatter)["items"] if m["kind"] == "association_requested"])
    assert inbox[0]["data"] == {"association_id": request, "enterprise_id": eid}  # that one waits, not who
    members = api.get(f"/api/v1/enterprises/{eid}/members", token=squatter.token)
    requests_ = api.get(f"/api/v1/enterprises/{eid}/association-requests?status=pending", token=squatter.token)
    assert refusal(members) == refusal(requests_) == (403, "ROLE_NOT_CERTIFIED")
    assert "法人卡" in http_error(members)["message"]
    seen = [api.get("/api/v1/messages", token=squatter.token), api.get(f"/api/v1/enterprises/{eid}",
                                                                       token=squatter.token),
            api.get("/api/v1/me", token=squatter.token), members, requests_]
    audit = api.get(f"/api/v1/enterprises/{eid}/audit-events", token=squatter.token)
    assert refusal(audit) == (403, "ROLE_NOT_CERTIFIED")
    assert no_trace_of(applicant, *seen, audit)
    # Anyone else gets a plain 403, a certified administrator of another enterprise included.
    other_admin = register(api)
    register_enterprise(api, other_admin)
    for outsider in (applicant, other_admin):
        r = api.get(f"/api/v1/enterprises/{eid}/association-requests", token=outsider.token)
        assert refusal(r) == (403, "FORBIDDEN")
    # Once certified by the legal-person card, the administrator reads who applied in the list.
    certify(api, squatter.token, squatter.user_id, eid, uscc, squatter.name, squatter.id_number, wait=False)
    listed = api.get(f"/api/v1/enterprises/{eid}/association-requests?status=pending", token=squatter.token)
    assert listed.status_code == 200, listed.text
    assert [(i["association_id"], i["name"], i["user_id"]) for i in listed.json()["items"]] == \
        [(request, applicant.name, applicant.user_id)]


def test_a_claim_replaces_what_the_squatter_typed(api):
    squatter, holder = register(api), register(api)
    eid, uscc = register_enterprise(api, squatter, certify_role=False)
    assert api.get(f"/api/v1/enterprises/{eid}", token=squatter.token).json()["certified"] is False
    r = api.post("/api/v1/admin-claims", token=holder.token,
                 json=dict(prove(api, holder.token, new_card(holder.name, holder.id_number, uscc)), uscc=uscc))
    assert refusal(r) == (400, "VALIDATION_ERROR")
    assert set(http_error(r)["details"]) == {"name", "address", "business_scope"}
    claim(api, holder.token, uscc, holder.name, holder.id_number, **CLAIMED)
    detail = api.get(f"/api/v1/enterprises/{eid}", token=holder.token).json()
    assert {k: detail[k] for k in CLAIMED} == CLAIMED and detail["certified"] is True
    mine = next(a for a in api.get("/api/v1/me", token=holder.token).json()["associations"]
                if a["enterprise_id"] == eid)
    assert mine["enterprise_name"] == CLAIMED["name"]


def test_only_the_certified_administrator_edits_an_enterprise_entered_by_hand(api):
    admin, member, other_admin, uncertified = register(api), register(api), register(api), register(api)
    eid, uscc = register_enterprise(api, admin)
    approve(api, admin, apply(api, member, uscc))
    register_enterprise(api, other_admin)
    path = f"/api/v1/enterprises/{eid}"
    for who, expected in ((member, (403, "FORBIDDEN")), (other_admin, (403, "FORBIDDEN"))):
        assert refusal(api.put(path, token=who.token, json={"name": "冒名贸易有限公司"})) == expected
    own, _ = register_enterprise(api, uncertified, certify_role=False)
    assert refusal(api.put(f"/api/v1/enterprises/{own}", token=uncertified.token, json={"name": "改名"})) == \
        (403, "ROLE_NOT_CERTIFIED")
    bad = api.put(path, token=admin.token, json={"name": "  ", "address": "地" * 201})
    assert refusal(bad) == (400, "VALIDATION_ERROR") and set(http_error(bad)["details"]) == {"name", "address"}
    assert api.get(path, token=admin.token).json()["name"] == MANUAL["name"]  # nothing of it stored
    r = api.put(path, token=admin.token, json={"name": "杭州更名贸易有限公司", "business_scope": "报关代理"})
    assert r.status_code == 200, r.text
    assert r.json() == api.get(path, token=admin.token).json()
    assert (r.json()["name"], r.json()["address"], r.json()["business_scope"]) == \
        ("杭州更名贸易有限公司", MANUAL["address"], "报关代理")
    # The registry's details are the registry's.
    registry_admin = register(api)
    r = api.post("/api/v1/associations", token=registry_admin.token, json={"uscc": KNOWN, "role": "admin"})
    assert r.status_code == 201, r.text
    known = r.json()["enterprise_id"]
    certify(api, registry_admin.token, registry_admin.user_id, known, KNOWN, registry_admin.name,
            registry_admin.id_number, wait=False)
    assert refusal(api.put(f"/api/v1/enterprises/{known}", token=registry_admin.token, json={"name": "改名"})) == \
        (409, "ENTERPRISE_FROM_REGISTRY")


def test_at_most_three_uncertified_enterprises_by_hand_even_in_parallel(api):
    person = register(api)
    body = lambda: {"uscc": unknown_uscc(), "role": "admin", **MANUAL}  # noqa: E731
    pool = eventlet.GreenPool()
    answers = list(pool.imap(lambda b: api.post("/api/v1/associations", token=person.token, json=b),
                             [body() for _ in range(UNCERTIFIED_BY_HAND_MAX + 3)]))
    statuses = sorted(r.status_code for r in answers)
    assert statuses.count(201) == UNCERTIFIED_BY_HAND_MAX, [r.text for r in answers]
    refused = [r for r in answers if r.status_code != 201]
    assert {refusal(r) for r in refused} <= {(409, "TOO_MANY_UNCERTIFIED"), (409, "CONFLICT")}
    assert (409, "TOO_MANY_UNCERTIFIED") in {refusal(r) for r in refused}
    held = [a for a in api.get("/api/v1/me", token=person.token).json()["associations"] if a["role"] == "admin"]
    assert len(held) == UNCERTIFIED_BY_HAND_MAX
    assert refusal(api.post("/api/v1/associations", token=person.token, json=body())) == (409, "TOO_MANY_UNCERTIFIED")
    # Certifying one of them (its legal-person card) frees its place.
    first = held[0]
    certify(api, person.token, person.user_id, first["enterprise_id"], first["uscc"], person.name, person.id_number,
            wait=False)
    assert api.post("/api/v1/associations", token=person.token, json=body()).status_code == 201

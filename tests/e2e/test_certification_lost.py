"""A role certification rests on a valid card (API.md, "Enterprises, added"), against the launched
platform: the legal-person card that certified the administrator unbound (DELETE …/card), revoked
(the development CA's CRL lists it) or expired (its notAfter passes) ends the certification within 5
seconds everywhere: admin actions answer 403 ROLE_NOT_CERTIFIED, checks allow nothing, GET enterprise
and /me say `role_certified: false`, the administrator has a `role_certification_lost` message; and
the holder of another valid legal-person card claims the role (201 where it was 409). A handover's
certification stays when the former administrator's card goes."""
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from eport_card.devca import CA_CRL_FILE, load_ca, revoke
from tests.e2e.certification import authz_allows, new_card, prove
from tests.e2e.conftest import skip_unless_deployed
from tests.e2e.enterprise_people import apply, approve, messages, register, register_enterprise
from tests.support import wait_for, http_error
from tests.card_support import serial_of

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]
EFFECT_SECONDS = 5  # API.md: effects of a lost certification show within 5 seconds everywhere


@pytest.fixture(scope="module", autouse=True)
def deployed(platform):
    skip_unless_deployed(platform, {"identity", "notify", "enterprise", "card", "authz", "gateway"})


def bind_legal_person_card(api, person, eid, uscc, **card_fields):
    card = new_card(person.name, person.id_number, uscc, **card_fields)
    r = api.post(f"/api/v1/enterprises/{eid}/card", token=person.token, json=prove(api, person.token, card))
    assert r.status_code == 201 and r.json()["role_certified"] is True, r.text
    wait_for(lambda: authz_allows(api, person.token, person.user_id, eid), timeout=10, interval=0.05)
    return card


def claim_code(api, person, uscc):
    """The status of a claim of the role with a new legal-person card of `person` (and the card)."""
    card = new_card(person.name, person.id_number, uscc)
    r = api.post("/api/v1/admin-claims", token=person.token, json=dict(prove(api, person.token, card), uscc=uscc))
    return r.status_code, r.json()


def role_certified_everywhere(api, admin, eid):
    """(GET enterprise, /me, authz check): what each says of the administrator's certification."""
    enterprise = api.get(f"/api/v1/enterprises/{eid}", token=admin.token).json()["admin_role_certified"]
    me = api.get("/api/v1/me", token=admin.token).json()
    mine = next(a for a in me["associations"] if a["enterprise_id"] == eid)["role_certified"]
    return enterprise, mine, authz_allows(api, admin.token, admin.user_id, eid)


def lost_kinds(api, admin):
    return [m for m in messages(api, admin)["items"] if m["kind"] == "role_certification_lost"]


def lose_the_card(api, platform, how, admin, eid, card, not_after=None):
    if how == "unbound":
        r = api.delete(f"/api/v1/enterprises/{eid}/card", token=admin.token)
        assert r.status_code == 204, r.text
    elif how == "revoked":  # the CA's list the platform reads (CARD_CRL unset: the development CA's)
        ca_dir = Path(platform.env["EPORT_VAR"]) / "card-ca"
        revoke(load_ca(ca_dir), serial_of(card), ca_dir / CA_CRL_FILE)
    else:  # expired: its notAfter passes
        time.sleep(max(0.0, (not_after - datetime.now(UTC)).total_seconds()))


@pytest.mark.parametrize("how", ["unbound", "revoked", "expired"])
def test_the_certifying_card_gone_ends_the_certification_and_the_legal_person_claims(api, platform, how):
    admin, member, legal_person = register(api), register(api), register(api)
    eid, uscc = register_enterprise(api, admin, certify_role=False)
    fields = {}
    if how == "expired":
        now = datetime.now(UTC)
        fields = {"not_before": now - timedelta(minutes=5), "not_after": now + timedelta(seconds=8)}
    card = bind_legal_person_card(api, admin, eid, uscc, **fields)
    request = apply(api, member, uscc)
    assert claim_code(api, legal_person, uscc)[0] == 409  # its administrator is certified
    lose_the_card(api, platform, how, admin, eid, card, fields.get("not_after"))
    started = time.monotonic()
    wait_for(lambda: role_certified_everywhere(api, admin, eid) == (False, False, False) and lost_kinds(api, admin),
             timeout=EFFECT_SECONDS, interval=0.05)
    took = time.monotonic() - started
    r = api.post(f"/api/v1/association-requests/{request}/approve", token=admin.token)
    assert r.status_code == 403 and http_error(r)["code"] == "ROLE_NOT_CERTIFIED", r.text
    [told] = lost_kinds(api, admin)
    assert told["data"]["enterprise_id"] == eid and told["data"]["reason"] == how
    status, body = claim_code(api, legal_person, uscc)
    assert status == 201 and body["superseded_user_id"] == admin.user_id, body
    print(f"certification lost ({how}) everywhere {took:.2f} s after the card went")


def test_a_handover_certification_stays_when_the_former_admins_card_is_unbound(api, platform):
    admin, successor = register(api), register(api)
    eid, uscc = register_enterprise(api, admin, certify_role=False)
    bind_legal_person_card(api, admin, eid, uscc)
    approve(api, admin, apply(api, successor, uscc))
    r = api.put(f"/api/v1/enterprises/{eid}/admin", token=admin.token, json={"user_id": successor.user_id})
    assert r.status_code == 200, r.text
    wait_for(lambda: authz_allows(api, successor.token, successor.user_id, eid), timeout=10, interval=0.05)
    r = api.delete(f"/api/v1/enterprises/{eid}/card", token=admin.token)  # the former admin's card goes
    assert r.status_code == 204, r.text
    # A marker behind it on the same queue: another administrator's certifying card unbound, and lost.
    other = register(api)
    marker, marker_uscc = register_enterprise(api, other, certify_role=False)
    bind_legal_person_card(api, other, marker, marker_uscc)
    r = api.delete(f"/api/v1/enterprises/{marker}/card", token=other.token)
    assert r.status_code == 204, r.text
    wait_for(lambda: role_certified_everywhere(api, other, marker) == (False, False, False),
             timeout=EFFECT_SECONDS, interval=0.05)
    assert role_certified_everywhere(api, successor, eid) == (True, True, True)
    assert lost_kinds(api, successor) == [] and lost_kinds(api, admin) == []

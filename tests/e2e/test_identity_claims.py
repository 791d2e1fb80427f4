"""实名认证 end to end (issue 20, item 5): the holder of an ID number's card reclaims it from an account
that registered it without the card. The launched platform over HTTP; the cards are of the platform's
development CA, signed in this process (tests/e2e/certification.py).

Each test tries to break one rule: the squatter keeps nothing (sessions, login, memberships, grants),
another person's card claims nothing, a verified account cannot be taken, a challenge answers one claim
of its own purpose, a retried claim runs once, and of two claims racing for one ID number one wins.
"""
import os
import threading
import uuid

import pytest

from services.common.rpc import ClusterRpcProxy
from tests.e2e.certification import authz_allows, claim as claim_admin
from tests.e2e.enterprise_people import (
    MANUAL, apply, approve, audit_trail, person_name, register, register_enterprise, wait_for,
)
from tests.factories import new_id_number
from tests.e2e.identity_claim_steps import log_in, take_over, card_of, claim_body, register_as
from tests.support import refusal

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]
SYSTEM = "manifest"


def claim(api, body, **kw):
    return api.post("/api/v1/identity-claims", json=body, **kw)


def inbox_of(user_id):
    """The superseded account can no longer log in: its inbox is read from notify directly."""
    with ClusterRpcProxy({"AMQP_URI": os.environ["E2E_AMQP_URI"]}, timeout=10) as rpc:
        return rpc.notify.list_messages(user_id)["items"]


def granted(api, admin, eid, member):
    """The grant's answer once authz knows the member: it learns the approval from enterprise's event,
    and answers 409 NOT_A_MEMBER until then."""
    def put():
        r = api.put(f"/api/v1/enterprises/{eid}/members/{member.user_id}/permissions", token=admin.token,
                    json={"systems": [SYSTEM]})
        return None if r.status_code == 409 else r
    return wait_for(put, what="authz to learn the approval")


def test_the_card_holder_reclaims_the_id_number_from_a_squatter(api):
    admin = register(api)
    eid, _ = register_enterprise(api, admin)
    victim_name, victim_id = person_name(), new_id_number()
    squatter = register_as(api, victim_name, victim_id)
    approve(api, admin, apply(api, squatter, _uscc_of(api, admin, eid)))
    r = granted(api, admin, eid, squatter)
    assert r.status_code == 200, r.text
    assert api.get("/api/v1/me", token=squatter.token).json()["identity_verified"] is False

    r = claim(api, claim_body(api, card_of(victim_name, victim_id), victim_name, victim_id))
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer["identity_verified"] is True and answer["superseded_user_id"] == squatter.user_id
    # at once: the squatter's token, and every way of logging in
    assert refusal(api.get("/api/v1/me", token=squatter.token)) == (401, "UNAUTHENTICATED")
    for account in (squatter.mobile, victim_id):
        assert refusal(log_in(api, account)) == (401, "INVALID_CREDENTIALS")
    # within seconds everywhere: membership removed (reason superseded), grants revoked, a message
    wait_for(lambda: any(e["event_type"] == "MemberRemoved" and e["payload"]["user_id"] == squatter.user_id
                         and e["payload"]["reason"] == "superseded" for e in audit_trail(api, admin, eid)))
    wait_for(lambda: not authz_allows(api, admin.token, squatter.user_id, eid, SYSTEM))
    r = api.get(f"/api/v1/enterprises/{eid}/members", token=admin.token)
    assert squatter.user_id not in {m["user_id"] for m in r.json()["items"]}
    wait_for(lambda: [m for m in inbox_of(squatter.user_id) if m["kind"] == "identity_superseded"])
    # the ID number is the claimant's now, verified
    take_over(api, answer)
    r = log_in(api, victim_id)
    assert r.status_code == 201 and r.json()["user_id"] == answer["user_id"], r.text
    me = api.get("/api/v1/me", token=r.json()["access_token"]).json()
    assert me["identity_verified"] is True and me["associations"] == []


def test_a_superseded_uncertified_administrator_leaves_the_role_to_the_legal_person(api):
    victim_name, victim_id = person_name(), new_id_number()
    squatter = register_as(api, victim_name, victim_id)
    eid, uscc = register_enterprise(api, squatter, certify_role=False)
    r = claim(api, claim_body(api, card_of(victim_name, victim_id), victim_name, victim_id))
    assert r.status_code == 201, r.text
    take_over(api, r.json())
    token = log_in(api, victim_id).json()["access_token"]
    # once enterprise has learnt it, the legal person claims the administrator role from the squatter
    wait_for(lambda: _admin_association_removed(squatter.user_id))
    claimed = claim_admin(api, token, uscc, victim_name, victim_id, **MANUAL)
    assert claimed["enterprise_id"] == eid and claimed["superseded_user_id"] == squatter.user_id


def test_a_card_of_another_person_claims_nothing(api):
    name, id_number = person_name(), new_id_number()
    squatter = register_as(api, name, id_number)
    for card in (card_of(name, new_id_number()), card_of(person_name(), id_number)):
        assert refusal(claim(api, claim_body(api, card, name, id_number))) == (422, "CARD_HOLDER_MISMATCH")
    assert api.get("/api/v1/me", token=squatter.token).status_code == 200


def test_a_verified_account_cannot_be_taken(api):
    name, id_number = person_name(), new_id_number()
    card = card_of(name, id_number)
    assert claim(api, claim_body(api, card, name, id_number)).status_code == 201
    assert refusal(claim(api, claim_body(api, card, name, id_number))) == (409, "ID_NUMBER_VERIFIED")
    # another card of the same person, and the mismatch decided first
    assert refusal(claim(api, claim_body(api, card_of(name, id_number), name, id_number))) == \
        (409, "ID_NUMBER_VERIFIED")
    assert refusal(claim(api, claim_body(api, card_of(name, new_id_number()), name, id_number))) == \
        (422, "CARD_HOLDER_MISMATCH")


def test_a_challenge_answers_one_claim_of_its_own_purpose(api):
    holder = register(api)
    name, id_number = person_name(), new_id_number()
    card = card_of(name, id_number)
    for purpose, token in (("login", None), ("bind", holder.token)):
        body = claim_body(api, card, name, id_number, purpose=purpose, token=token)
        assert refusal(claim(api, body)) == (400, "CHALLENGE_INVALID")
    body = claim_body(api, card, name, id_number)
    assert claim(api, body).status_code == 201
    replayed = claim_body(api, card, name, new_id_number())
    replayed.update({k: body[k] for k in ("challenge_id", "signature")})
    assert refusal(claim(api, replayed)) == (400, "CHALLENGE_INVALID")


def test_a_retried_claim_runs_once(api):
    name, id_number = person_name(), new_id_number()
    squatter = register_as(api, name, id_number)
    body, key = claim_body(api, card_of(name, id_number), name, id_number), str(uuid.uuid4())
    first = claim(api, body, headers={"Idempotency-Key": key})
    again = claim(api, body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201, again.text
    assert first.json() == again.json() and first.json()["superseded_user_id"] == squatter.user_id


def test_of_two_claims_racing_for_one_id_number_one_wins(api):
    name, id_number = person_name(), new_id_number()
    register_as(api, name, id_number)
    card = card_of(name, id_number)
    bodies = [claim_body(api, card, name, id_number) for _ in range(2)]
    answers = [None, None]

    def run(i):
        answers[i] = claim(api, bodies[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201, 409], [a.text for a in answers]
    assert refusal(next(a for a in answers if a.status_code == 409)) == (409, "ID_NUMBER_VERIFIED")


# -- helpers ---------------------------------------------------------------------------------------


def _uscc_of(api, admin, eid):
    return api.get(f"/api/v1/enterprises/{eid}", token=admin.token).json()["uscc"]


def _admin_association_removed(user_id):
    with ClusterRpcProxy({"AMQP_URI": os.environ["E2E_AMQP_URI"]}, timeout=10) as rpc:
        return all(a["status"] == "removed" for a in rpc.enterprise.associations_of_user(user_id))

"""Role certification (角色认证, issue 10) end to end: the running platform over HTTP, and the real
card chain (pcscd + vpcd + our card emulator + the agent over pyscard) for the cards that certify
or claim. An administrator whose role is not certified sees but does not act; the enterprise's
legal-person card (法人卡) certifies the role, or claims it from an uncertified administrator.

Run under the PC/SC lock: `flock /tmp/eport-pcsc.lock .venv/bin/python -m pytest tests/e2e/test_role_certification.py`.
"""
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
import requests

from eport_card.agent import bind as agent_bind
from eport_card.agent import login as agent_login
from eport_card.devca import create_ca
from tests.card.conftest import card_present, insert, pcscd, virtual_card, vpcd_reader, wait_until  # noqa: F401
from tests.e2e.certification import new_card, prove
from tests.e2e.conftest import Api
from tests.e2e.card_binding_fixtures import (  # noqa: F401 (fixtures base, ca)
    PIN, USCC_OF, Person, base, ca, find_card_no, issue, sign_with_card,
)
from tests.factories import new_uscc
from tests.support import http_error, refusal

pytestmark = [pytest.mark.e2e, pytest.mark.card, pytest.mark.timeout(300)]

SYSTEMS = ("cargo_declaration", "manifest", "bonded_logistics")
DETAILS = {"name": "宁波认领测试贸易有限公司", "address": "浙江省宁波市", "business_scope": "货物进出口"}


def eventually(fn, what, timeout=15):
    deadline = time.monotonic() + timeout
    while not (value := fn()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


def check(person, user_id, enterprise_id, system):
    r = person.call("GET", "/api/v1/authz/check",
                    params={"user_id": user_id, "enterprise_id": enterprise_id, "system": system})
    assert r.status_code == 200, r.text
    return r.json()["allowed"]


def membership(person, enterprise_id):
    me = person.call("GET", "/api/v1/me").json()
    return next(a for a in me["associations"] if a["enterprise_id"] == enterprise_id)


def apply(person, enterprise_id, uscc=None):
    r = person.call("POST", "/api/v1/associations", json={"uscc": uscc or USCC_OF[enterprise_id], "role": "user"})
    assert r.status_code == 202, r.text
    return r.json()["association_id"]


def messages(person, kind):
    return [m for m in person.call("GET", "/api/v1/messages").json()["items"] if m["kind"] == kind]


# -- what every store holds: a refused claim must leave all of it as it was ------------------------
def stores(var):
    """Row counts of every table of every store of the platform (event stores, audit log, inbox, …)."""
    counts = {}
    for path in sorted(Path(var).glob("*.db")):
        if path.name.endswith("-relay.db"):  # relay positions: how far publishing got, not state
            continue
        with closing(sqlite3.connect(path, timeout=10)) as db:
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
                counts[f"{path.name}:{table}"] = db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    assert {"enterprise.db", "card.db", "authz.db", "audit.db", "notify-inbox.db"} <= {k.split(":")[0] for k in counts}
    return counts


def settled(var, quiet=0.6, timeout=20):
    """The stores once nothing has changed for `quiet` seconds (consumers done with earlier events)."""
    deadline, last, since = time.monotonic() + timeout, stores(var), time.monotonic()
    while time.monotonic() - since < quiet:
        assert time.monotonic() < deadline, "the stores kept changing"
        time.sleep(0.1)
        now = stores(var)
        if now != last:
            last, since = now, time.monotonic()
    return last


@pytest.fixture
def var(platform):
    return platform.env["EPORT_VAR"]


@pytest.fixture
def card(insert, virtual_card, vpcd_reader):  # noqa: F811
    """Put a card image into the reader, pulling the one in it first."""
    def put(path):
        if virtual_card.inserted:
            virtual_card.remove()
            wait_until(lambda: not card_present(vpcd_reader[0]), 5, "pcscd to see the card pulled")
        insert(path)
    return put


def claim_with_the_card_in_the_reader(person, uscc, **details):
    """A claim body: a bind challenge asked for the card in the reader and signed by it (PIN first)."""
    challenge = person.call("POST", "/api/v1/card-challenges", json={"purpose": "bind", "card_no": find_card_no()})
    assert challenge.status_code == 201, challenge.text
    return dict(sign_with_card(challenge.json()), uscc=uscc, **details)


def refused_without_a_trace(var, person, body, expected):
    before = settled(var)
    r = person.call("POST", "/api/v1/admin-claims", json=body)
    assert refusal(r) == expected, r.text
    time.sleep(0.5)  # anything it set off would have reached a store by now
    assert settled(var) == before
    return r


# -- the tests ---------------------------------------------------------------------------------------
def test_an_uncertified_admin_sees_but_cannot_act_until_the_legal_person_card(base, ca, tmp_path, card):  # noqa: F811
    admin, member = Person(base, "张三"), Person(base, "李四")
    eid = admin.register_enterprise()
    request = apply(member, eid)
    detail = admin.call("GET", f"/api/v1/enterprises/{eid}").json()
    assert (detail["certified"], detail["admin_role_certified"]) == (False, False)
    assert membership(admin, eid)["role_certified"] is False
    # Seeing the enterprise is allowed, not the people: the members and the requests wait for the role.
    # Acting is not allowed either, and the answer says how to be certified.
    refused = [admin.call("GET", f"/api/v1/enterprises/{eid}/members"),
               admin.call("GET", f"/api/v1/enterprises/{eid}/association-requests?status=pending"),
               admin.call("POST", f"/api/v1/association-requests/{request}/approve"),
               admin.call("POST", f"/api/v1/association-requests/{request}/reject", json={}),
               admin.call("PUT", f"/api/v1/enterprises/{eid}/admin", json={"user_id": member.user_id}),
               admin.call("DELETE", f"/api/v1/enterprises/{eid}/members/{member.user_id}"),
               admin.call("GET", f"/api/v1/enterprises/{eid}/audit-events")]
    assert [refusal(r) for r in refused] == [(403, "ROLE_NOT_CERTIFIED")] * 7, [r.text for r in refused]
    assert all("法人卡" in http_error(r)["message"] for r in refused)
    grant = f"/api/v1/enterprises/{eid}/members/{member.user_id}/permissions"
    eventually(lambda: refusal(admin.call("PUT", grant, json={"systems": ["manifest"]})) == (403, "ROLE_NOT_CERTIFIED"),
               "authz to know the enterprise")  # before that it is a plain 403 FORBIDDEN
    assert not any(check(admin, admin.user_id, eid, s) for s in SYSTEMS)

    # An operator card (操作员卡) certifies the enterprise, not the role.
    card(issue(ca, tmp_path, admin, card_type="operator", enterprise=eid))
    bound = agent_bind(base, admin.token, eid, PIN, card_timeout=5)
    assert (bound["card_type"], bound["role_certified"]) == ("operator", False) and "法人卡" in bound["warning"]
    assert admin.call("GET", f"/api/v1/enterprises/{eid}").json()["certified"] is True
    assert refusal(admin.call("POST", f"/api/v1/association-requests/{request}/approve")) == (403, "ROLE_NOT_CERTIFIED")
    assert admin.unbind(eid).status_code == 204

    # The enterprise's legal-person card certifies the role: the same actions now work.
    card(issue(ca, tmp_path, admin, card_type="legal_person", enterprise=eid))
    bound = agent_bind(base, admin.token, eid, PIN, card_timeout=5)
    assert (bound["card_type"], bound["role_certified"], bound["warning"]) == ("legal_person", True, None)
    assert admin.call("GET", f"/api/v1/enterprises/{eid}").json()["admin_role_certified"] is True
    assert membership(admin, eid)["role_certified"] is True
    assert admin.call("POST", f"/api/v1/association-requests/{request}/approve").status_code == 200
    eventually(lambda: admin.call("PUT", grant, json={"systems": ["manifest"]}).status_code == 200, "the grant")
    assert check(member, member.user_id, eid, "manifest") is True
    eventually(lambda: all(check(admin, admin.user_id, eid, s) for s in SYSTEMS), "the admin's systems")
    rows = {m["user_id"]: m["role_certified"] for m in
            admin.call("GET", f"/api/v1/enterprises/{eid}/members").json()["items"]}
    assert rows == {admin.user_id: True, member.user_id: False}
    assert admin.call("GET", f"/api/v1/enterprises/{eid}/audit-events").status_code == 200
    # A handover by a certified administrator certifies the successor.
    r = admin.call("PUT", f"/api/v1/enterprises/{eid}/admin", json={"user_id": member.user_id})
    assert r.status_code == 200, r.text
    assert member.call("GET", f"/api/v1/enterprises/{eid}").json()["admin_role_certified"] is True
    eventually(lambda: all(check(member, member.user_id, eid, s) for s in SYSTEMS), "the successor's systems")



def claim_admin_cli(base_url, person, uscc, *extra):
    """`eport-card-agent claim-admin`, as the README shows it (the token and the PIN in its
    environment, never on its command line): its JSON answer."""
    out = subprocess.run([sys.executable, "-m", "eport_card.agent", "--wait", "5", "claim-admin",
                          "--gateway", base_url, "--uscc", uscc, *extra],
                         env=dict(os.environ, CARD_PIN=PIN, EPORT_ACCESS_TOKEN=person.token),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_card_holder_supersedes_a_squatter(base, ca, tmp_path, card):  # noqa: F811
    squatter, holder, applicant = Person(base, "赵六"), Person(base, "张三"), Person(base, "钱七")
    eid = squatter.register_enterprise()  # anyone may register a real enterprise: uncertified
    pending = apply(applicant, eid)
    assert not any(check(squatter, squatter.user_id, eid, s) for s in SYSTEMS)

    card(issue(ca, tmp_path, holder, card_type="legal_person", enterprise=eid))
    claimed = claim_admin_cli(base, holder, USCC_OF[eid], "--name", DETAILS["name"], "--address", DETAILS["address"],
                              "--business-scope", DETAILS["business_scope"])  # the squatter's are dropped
    assert (claimed["enterprise_id"], claimed["role"], claimed["status"], claimed["role_certified"]) == \
        (eid, "admin", "approved", True)
    assert claimed["superseded_user_id"] == squatter.user_id and claimed["card"]["card_type"] == "legal_person"
    detail = holder.call("GET", f"/api/v1/enterprises/{eid}").json()
    assert (detail["admin_user_id"], detail["admin_role_certified"]) == (holder.user_id, True)
    assert {k: detail[k] for k in DETAILS} == DETAILS and detail["certified"] is True
    assert membership(holder, eid)["card"]["card_no"] == claimed["card"]["card_no"]

    # The squatter's association ended (removed, superseded): no enterprise, no system, no grant.
    assert membership(squatter, eid)["status"] == "removed"
    assert squatter.call("GET", f"/api/v1/enterprises/{eid}").status_code == 403
    assert squatter.call("GET", f"/api/v1/enterprises/{eid}/members/{squatter.user_id}/permissions"
                         ).json()["systems"] == []
    eventually(lambda: all(check(holder, holder.user_id, eid, s) for s in SYSTEMS), "the holder's systems")
    assert not any(check(squatter, squatter.user_id, eid, s) for s in SYSTEMS)
    # Both are told; the holder decides the pending request; the card logs the holder in.
    assert "法人卡" in eventually(lambda: messages(squatter, "admin_superseded"), "the squatter's message")[0]["body"]
    assert eventually(lambda: messages(holder, "admin_claimed"), "the holder's message")[0]["data"]["enterprise_id"] \
        == eid
    assert holder.call("POST", f"/api/v1/association-requests/{pending}/approve").status_code == 200
    assert agent_login(base, PIN, card_timeout=5)["user_id"] == holder.user_id

    def trail():
        r = holder.call("GET", f"/api/v1/enterprises/{eid}/audit-events", params={"limit": 100})
        assert r.status_code == 200, r.text
        return {i["event_type"] for i in r.json()["items"]}
    eventually(lambda: trail() >= {"AdminSuperseded", "RoleCertified", "MemberRemoved"}, "the audit trail")


def test_a_claim_against_a_certified_admin_is_409_and_changes_nothing(base, ca, tmp_path, card, var):  # noqa: F811
    admin, rival = Person(base, "张三"), Person(base, "张三")
    eid = admin.register_enterprise()
    card(issue(ca, tmp_path, admin, card_type="legal_person", enterprise=eid))
    assert agent_bind(base, admin.token, eid, PIN, card_timeout=5)["role_certified"] is True
    # The CA issued a second legal-person card of the enterprise, to the rival: still no claim.
    card(issue(ca, tmp_path, rival, card_type="legal_person", enterprise=eid))
    r = refused_without_a_trace(var, rival, claim_with_the_card_in_the_reader(rival, USCC_OF[eid]),
                                (409, "ENTERPRISE_HAS_ADMIN"))
    assert "变更企业管理员" in http_error(r)["message"]
    assert admin.call("GET", f"/api/v1/enterprises/{eid}").json()["admin_user_id"] == admin.user_id


def test_every_refused_claim_leaves_every_store_unchanged(base, ca, tmp_path, card, var):  # noqa: F811
    squatter, claimant, someone_else = Person(base, "赵六"), Person(base, "张三"), Person(base, "王五")
    eid = squatter.register_enterprise()
    uscc = USCC_OF[eid]
    card(issue(ca, tmp_path, claimant, card_type="operator", enterprise=eid))
    refused_without_a_trace(var, claimant, claim_with_the_card_in_the_reader(claimant, uscc),
                            (422, "CARD_NOT_LEGAL_PERSON"))
    card(issue(ca, tmp_path, claimant, card_type="legal_person"))  # another enterprise's
    refused_without_a_trace(var, claimant, claim_with_the_card_in_the_reader(claimant, uscc),
                            (422, "CARD_ENTERPRISE_MISMATCH"))
    card(issue(ca, tmp_path, someone_else, card_type="legal_person", enterprise=eid))
    refused_without_a_trace(var, claimant, claim_with_the_card_in_the_reader(claimant, uscc),
                            (422, "CARD_HOLDER_MISMATCH"))
    card(issue(create_ca("Some Other CA"), tmp_path, claimant, card_type="legal_person", enterprise=eid))
    refused_without_a_trace(var, claimant, claim_with_the_card_in_the_reader(claimant, uscc),
                            (400, "CERTIFICATE_UNTRUSTED"))
    card(issue(ca, tmp_path, claimant, card_type="legal_person", enterprise=eid))
    body = claim_with_the_card_in_the_reader(claimant, uscc, **DETAILS)  # the squatter's details are not vouched for
    forged = dict(body, signature=claim_with_the_card_in_the_reader(claimant, uscc)["signature"])  # another nonce's
    refused_without_a_trace(var, claimant, forged, (400, "CARD_SIGNATURE_INVALID"))
    refused_without_a_trace(var, someone_else, body, (400, "CHALLENGE_INVALID"))  # asked for by another account
    # Nothing refused spent the challenge: the claim with it still goes through.
    claimed = claimant.call("POST", "/api/v1/admin-claims", json=body)
    assert claimed.status_code == 201, claimed.text
    assert claimed.json()["superseded_user_id"] == squatter.user_id
    # An enterprise nobody registered and the registry does not know needs its details typed in.
    nobodys = new_uscc()
    card(issue(ca, tmp_path, claimant, card_type="legal_person", uscc=nobodys))
    r = refused_without_a_trace(var, claimant, claim_with_the_card_in_the_reader(claimant, nobodys),
                                (400, "VALIDATION_ERROR"))
    assert set(http_error(r)["details"]) == {"name", "address", "business_scope"}


def claim_at_once(base, holders, bodies):  # noqa: F811
    """Every holder posts their claim at the same moment; the answers in the holders' order."""
    results, start = [None] * len(holders), threading.Barrier(len(holders))

    def claim(i):
        http = requests.Session()
        start.wait()
        results[i] = http.post(f"{base}/api/v1/admin-claims", json=bodies[i], timeout=30,
                               headers={"Authorization": f"Bearer {holders[i].token}"})

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(holders))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_two_holders_claim_at_once_exactly_one_wins(base, ca):  # noqa: F811
    """The CA issued two legal-person cards of one enterprise; both holders claim at the same moment,
    once for an enterprise a squatter registered and once for one nobody registered."""
    api = Api(base)
    squatter = Person(base, "赵六")
    squatted = squatter.register_enterprise()
    for uscc in (USCC_OF[squatted], new_uscc()):
        holders = [Person(base, "张三"), Person(base, "李四")]
        bodies = [dict(prove(api, h.token, new_card(h.name, h.id_number, uscc, ca=ca)), uscc=uscc, **DETAILS)
                  for h in holders]
        results = claim_at_once(base, holders, bodies)
        statuses = [r.status_code for r in results]
        assert sorted(statuses) == [201, 409], [r.text for r in results]
        won, lost = statuses.index(201), statuses.index(409)
        assert refusal(results[lost]) == (409, "ENTERPRISE_HAS_ADMIN")
        eid = results[won].json()["enterprise_id"]
        detail = holders[won].call("GET", f"/api/v1/enterprises/{eid}").json()
        assert (detail["admin_user_id"], detail["admin_role_certified"]) == (holders[won].user_id, True)
        loser = holders[lost]
        assert all(a["enterprise_id"] != eid for a in loser.call("GET", "/api/v1/me").json()["associations"])
        assert loser.call("GET", f"/api/v1/enterprises/{eid}").status_code == 403

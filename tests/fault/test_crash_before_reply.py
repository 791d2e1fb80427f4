"""A service dies after a command saved its effect and before it replied: the broker redelivers the
request to the restarted service, which answers what it had saved, and a client that gave up and
retries with its Idempotency-Key gets that answer too; never a second run, never 409.

- identity killed after a registration (EPORT_CRASH_AFTER_COMMAND): 201 with its user_id, never
  409 ID_NUMBER_TAKEN for its own registration;
- identity and enterprise killed right after the first save of a password setting and an
  association (EPORT_CRASH_AFTER_SAVE): their answers were stored in that save, so the retry gets
  them (when an answer followed in a second save, it was 409 IDEMPOTENCY_KEY_IN_USE for 24 h).

One platform for the module: every crash point below is named in its settings, each disarmed (its
marker made) until a test arms the one it proves (crash_armed), and the crash disarms it again."""
import os
import time
from pathlib import Path

import pytest
import requests

from eport_card.devca import load_ca
from services.card.trust import ensure_dev_ca
from tests import sms
from tests.e2e import enterprise_people as people
from tests.e2e.certification import new_card, prove
from tests.e2e.identity_steps import PASSWORD, ask_code, login
from tests.factories import new_id_number, new_mobile, new_uscc

from .conftest import launched, wait_for
from tests.support import http_error

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


CRASHES = {"EPORT_CRASH_AFTER_COMMAND": ("register",),
           "EPORT_CRASH_AFTER_SAVE": ("set_password", "associate", "request_sms_code", "bind", "login", "claim_admin")}


@pytest.fixture(scope="module")
def p():
    with launched(only=["identity", "notify", "enterprise", "card", "gateway"],
                  env={setting: ",".join(methods) for setting, methods in CRASHES.items()}) as platform:
        for setting, methods in CRASHES.items():
            for method in methods:
                Path(crash_armed(platform.var, method, setting)).touch()  # disarmed: as if it had crashed
        yield platform


def registration(api):
    mobile = new_mobile()
    return {"name": "赵六", "id_number": new_id_number(), "mobile": mobile,
            "sms_code": ask_code(api, mobile, "register")}


def crash_armed(var, method="register", setting="EPORT_CRASH_AFTER_COMMAND"):
    marker = os.path.join(var, f"crashed-{setting}-{method}")
    if os.path.exists(marker):
        os.remove(marker)
    return marker


def test_a_registration_whose_reply_was_lost_answers_201_with_its_user(p):
    api = p.api
    # 1. The gateway's own request is redelivered after identity's death.
    crash_armed(p.var)
    body = registration(api)
    pid = p.pid("identity")
    r = api.post("/api/v1/users", json=body)
    assert r.status_code == 201, r.text
    assert p.pid("identity") != pid, "identity did not die before replying: the test proves nothing"
    user = r.json()
    # the ID number is registered, once: with another mobile it is taken
    again = dict(registration(api), id_number=body["id_number"])
    http_error(api.post("/api/v1/users", json=again), 409, "ID_NUMBER_TAKEN")
    # 2. A client that gave up waiting retries with its key once identity is back.
    marker = crash_armed(p.var)
    body2 = registration(api)
    key = {"Idempotency-Key": "retry-after-crash"}
    pid = p.pid("identity")
    p.supervising = False  # identity stays dead until the client gave up
    try:
        lost = api.http.post(api.base + "/api/v1/users", json=body2, headers=key, timeout=1.5)
        raise AssertionError(f"answered before identity died: {lost.status_code} {lost.text}")
    except requests.Timeout:
        pass
    wait_for(lambda: os.path.exists(marker) and not p.alive("identity"), 30, "identity killed")
    p.supervising = True
    wait_for(lambda: p.pid("identity") != pid, 30, "identity restarted")
    p.wait_healthy(60)
    retried = api.post("/api/v1/users", json=body2, headers=key)
    assert retried.status_code == 201, retried.text
    again = api.post("/api/v1/users", json=body2, headers=key)
    assert again.json() == retried.json()
    for u, b in ((user, body), (retried.json(), body2)):
        r = api.put(f"/api/v1/users/{u['user_id']}/password",
                    json={"password": PASSWORD, "password_setup_token": u["password_setup_token"]})
        assert r.status_code == 204, r.text
        login = api.post("/api/v1/sessions", json={"method": "password", "account": b["mobile"],
                                                   "password": PASSWORD})
        assert login.json()["user_id"] == u["user_id"]
    assert len(sms.messages(body2["mobile"])) == 1


def lost_reply(p, service, marker, send):
    """`send()` while `service` dies after its save and stays dead until the client gave up; then
    `service` is back."""
    pid = p.pid(service)
    p.supervising = False
    try:
        lost = send(1.5)
        raise AssertionError(f"answered before {service} died: {lost.status_code} {lost.text}")
    except requests.Timeout:
        pass
    wait_for(lambda: os.path.exists(marker) and not p.alive(service), 30, f"{service} killed")
    p.supervising = True
    wait_for(lambda: p.pid(service) != pid, 30, f"{service} restarted")
    p.wait_healthy(60)


def test_a_command_killed_right_after_its_save_answers_its_first_answer(p):
    crash = "EPORT_CRASH_AFTER_SAVE"
    api = p.api
    body = registration(api)
    user = api.post("/api/v1/users", json=body).json()
    # 1. identity dies after saving the password: the gateway's own request is redelivered
    path = f"/api/v1/users/{user['user_id']}/password"
    setup = {"password": PASSWORD, "password_setup_token": user["password_setup_token"]}
    key = {"Idempotency-Key": "password-after-crash"}
    marker, pid = crash_armed(p.var, "set_password", crash), p.pid("identity")
    r = api.put(path, json=setup, headers=key)
    assert r.status_code == 204, r.text
    assert os.path.exists(marker) and p.pid("identity") != pid, "identity did not die: the test proves nothing"
    assert api.put(path, json=setup, headers=key).status_code == 204  # the client's retry
    # ran once: without the key it is a second run, and the setup token is spent
    http_error(api.put(path, json=setup), 401, "INVALID_CREDENTIALS")
    token = login(api, body["mobile"]).json()["access_token"]
    # 2. enterprise dies after saving an association; the client gave up and retries with its key
    association = {"uscc": new_uscc(), "role": "admin", "name": "杭州重试贸易有限公司", "address": "杭州",
                   "business_scope": "进出口"}
    key = {"Idempotency-Key": "association-after-crash"}
    marker = crash_armed(p.var, "associate", crash)
    lost_reply(p, "enterprise", marker, lambda timeout: api.http.post(
        api.base + "/api/v1/associations", json=association, timeout=timeout,
        headers=dict(key, Authorization=f"Bearer {token}")))
    retried = api.post("/api/v1/associations", json=association, token=token, headers=key)
    assert retried.status_code == 201, retried.text
    again = api.post("/api/v1/associations", json=association, token=token, headers=key)
    assert (again.status_code, again.json()) == (201, retried.json())
    http_error(api.post("/api/v1/associations", json=association, token=token), 409, "ENTERPRISE_HAS_ADMIN")
    mine = api.get("/api/v1/me", token=token).json()["associations"]
    assert [a["association_id"] for a in mine] == [retried.json()["association_id"]]


def test_an_sms_code_request_killed_before_its_hand_off_sends_its_code_once(p):
    """identity killed right after saving an SMS code request, before the code went to notify: the
    redelivered request and the client's retry with its key resume it (resumable), answer 202 with
    the same body, and exactly one SMS arrives (notify sends once per command id), whose code works.
    It used to answer 202 with no SMS ever sent: the person waited out the cooldown."""
    crash = "EPORT_CRASH_AFTER_SAVE"
    api = p.api
    mobile = new_mobile()
    body, key = {"mobile": mobile, "purpose": "register"}, {"Idempotency-Key": "sms-after-crash"}
    lost_reply(p, "identity", crash_armed(p.var, "request_sms_code", crash), lambda timeout: api.http.post(
        api.base + "/api/v1/sms-codes", json=body, timeout=timeout, headers=key))
    retried = api.post("/api/v1/sms-codes", json=body, headers=key)
    assert (retried.status_code, retried.json()) == (202, {"expires_in": 300, "resend_after": 60}), retried.text
    again = api.post("/api/v1/sms-codes", json=body, headers=key)
    assert (again.status_code, again.json()) == (202, retried.json())
    code = sms.latest_code(mobile, "register", timeout=10)
    time.sleep(1.0)  # a second SMS would be on its way by now
    assert len(sms.messages(mobile)) == 1
    assert resumptions(p, "identity", "request_sms_code") == 1  # the retry waited for the redelivery's turn
    http_error(api.post("/api/v1/sms-codes", json=body), 429, "SMS_COOLDOWN")  # one code was issued
    user = api.post("/api/v1/users", json={"name": "赵六", "id_number": new_id_number(), "mobile": mobile,
                                           "sms_code": code})
    assert user.status_code == 201, user.text


def test_a_card_command_killed_between_its_saves_is_resumed_by_its_retry(p):
    """Binding and card login spend their challenge first, then ask enterprise or identity, then
    save the binding or answer: card killed right after the challenge's save, the retry with the
    same key takes the command over (resumable) and answers 201, the card bound and logged in once."""
    crash = "EPORT_CRASH_AFTER_SAVE"
    api = p.api
    ca = load_ca(ensure_dev_ca(Path(p.var) / "card-ca"))  # the CA this platform's card service trusts
    admin = people.register(api)
    enterprise_id, uscc = people.register_enterprise(api, admin, certify_role=False)
    card = new_card(admin.name, admin.id_number, uscc, ca=ca)
    bind_path, proof = f"/api/v1/enterprises/{enterprise_id}/card", prove(api, admin.token, card)
    key = {"Idempotency-Key": "bind-after-crash"}
    as_admin = dict(key, Authorization=f"Bearer {admin.token}")
    lost_reply(p, "card", crash_armed(p.var, "bind", crash), lambda timeout: api.http.post(
        api.base + bind_path, json=proof, timeout=timeout, headers=as_admin))
    bound = api.post(bind_path, json=proof, token=admin.token, headers=key)
    assert bound.status_code == 201 and bound.json()["role_certified"] is True, bound.text
    assert api.post(bind_path, json=proof, token=admin.token, headers=key).json() == bound.json()
    http_error(api.post(bind_path, json=proof, token=admin.token), 400, "CHALLENGE_INVALID")  # spent once
    # card login: the session is identity's, made after the card spent the challenge
    body = dict(prove(api, None, card, purpose="login"), method="card")
    body.pop("card_no")
    key = {"Idempotency-Key": "card-login-after-crash"}
    lost_reply(p, "card", crash_armed(p.var, "login", crash), lambda timeout: api.http.post(
        api.base + "/api/v1/sessions", json=body, timeout=timeout, headers=key))
    session = api.post("/api/v1/sessions", json=body, headers=key)
    assert session.status_code == 201 and session.json()["user_id"] == admin.user_id, session.text
    assert api.post("/api/v1/sessions", json=body, headers=key).json() == session.json()
    me = api.get("/api/v1/me", token=session.json()["access_token"])
    assert me.status_code == 200 and me.json()["associations"][0]["card"]["card_no"] == card.card_no
    http_error(api.post("/api/v1/sessions", json=body), 400, "CHALLENGE_INVALID")


def test_an_admin_claim_killed_between_its_saves_is_resumed_by_its_retry(p):
    """claim_admin spends its challenge, then asks enterprise to claim, then saves the binding: card
    killed right after the challenge's save, the retry with the same key resumes it and answers 201
    with the same body twice; the uncertified administrator is superseded once, the claimant
    certified once, each told once in the inbox."""
    crash = "EPORT_CRASH_AFTER_SAVE"
    api = p.api
    ca = load_ca(ensure_dev_ca(Path(p.var) / "card-ca"))
    first, holder = people.register(api), people.register(api)
    enterprise_id, uscc = people.register_enterprise(api, first, certify_role=False)
    card = new_card(holder.name, holder.id_number, uscc, ca=ca)
    body = dict(prove(api, holder.token, card), uscc=uscc, **people.CLAIMED)  # replacing what `first` typed
    key = {"Idempotency-Key": "claim-after-crash"}
    as_holder = dict(key, Authorization=f"Bearer {holder.token}")
    lost_reply(p, "card", crash_armed(p.var, "claim_admin", crash), lambda timeout: api.http.post(
        api.base + "/api/v1/admin-claims", json=body, timeout=timeout, headers=as_holder))
    claimed = api.post("/api/v1/admin-claims", json=body, token=holder.token, headers=key)
    assert claimed.status_code == 201, claimed.text
    answer = claimed.json()
    assert (answer["enterprise_id"], answer["role_certified"], answer["superseded_user_id"]) == \
        (enterprise_id, True, first.user_id)
    again = api.post("/api/v1/admin-claims", json=body, token=holder.token, headers=key)
    assert (again.status_code, again.json()) == (201, answer)
    http_error(api.post("/api/v1/admin-claims", json=body, token=holder.token), 400, "CHALLENGE_INVALID")
    enterprise = api.get(f"/api/v1/enterprises/{enterprise_id}", token=holder.token).json()
    assert (enterprise["admin_user_id"], enterprise["admin_role_certified"]) == (holder.user_id, True)
    [mine] = api.get("/api/v1/me", token=holder.token).json()["associations"]
    assert (mine["association_id"], mine["card"]["card_no"]) == (answer["association_id"], card.card_no)
    [former] = api.get("/api/v1/me", token=first.token).json()["associations"]
    assert former["status"] == "removed"
    wait_for(lambda: kinds(api, first) == ["admin_superseded"] and kinds(api, holder) == ["admin_claimed"],
             30, "one inbox message each")
    time.sleep(1.0)  # a repeated claim's messages would be in by now
    assert (kinds(api, first), kinds(api, holder)) == (["admin_superseded"], ["admin_claimed"])
    assert resumptions(p, "card", "claim_admin") == 1  # enterprise asked once more, not twice


def resumptions(p, service, method):
    """How often `service` resumed `method` (its log): the broker's redelivery and the client's retry
    arrive together, and take turns (services/common/turns.py) instead of both resuming."""
    with open(os.path.join(p.var, "logs", f"{service}.log"), encoding="utf-8") as log:
        return sum(f"resuming {method}:" in line for line in log)


def kinds(api, person):
    return [m["kind"] for m in people.messages(api, person)["items"]]

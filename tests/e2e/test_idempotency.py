"""Idempotency-Key over HTTP (shared/API.md, general rules): a retried command runs once."""
import pytest

from tests import sms
from tests.e2e.identity_steps import PASSWORD, ask_code, register
from tests.factories import new_id_number, new_mobile, new_uscc
from tests.support import http_error

pytestmark = pytest.mark.e2e


def registration(api):
    mobile = new_mobile()
    return {"name": "李四", "id_number": new_id_number(), "mobile": mobile,
            "sms_code": ask_code(api, mobile, "register")}


def with_key(key):
    return {"Idempotency-Key": key}


def test_a_retried_registration_answers_the_first_answer_and_registers_once(api):
    body = registration(api)
    first = api.post("/api/v1/users", json=body, headers=with_key("reg-1"))
    assert first.status_code == 201, first.text
    again = api.post("/api/v1/users", json=body, headers=with_key("reg-1"))
    assert again.status_code == 201, again.text
    assert again.json() == first.json()  # the same user and the same setup token
    # without the key the same body is a second registration: refused, so the first ran once
    http_error(api.post("/api/v1/users", json=body), 400, "SMS_CODE_INVALID")
    user = first.json()
    r = api.put(f"/api/v1/users/{user['user_id']}/password",
                json={"password": PASSWORD, "password_setup_token": user["password_setup_token"]})
    assert r.status_code == 204, r.text
    login = api.post("/api/v1/sessions", json={"method": "password", "account": body["mobile"], "password": PASSWORD})
    assert login.json()["user_id"] == user["user_id"]


def test_the_same_key_with_another_body_is_refused_and_changes_nothing(api):
    body = registration(api)
    assert api.post("/api/v1/users", json=body, headers=with_key("reg-2")).status_code == 201
    other = dict(body, name="王五")
    http_error(api.post("/api/v1/users", json=other, headers=with_key("reg-2")), 422, "IDEMPOTENCY_KEY_REUSED")


def test_keys_are_the_callers_own(api):
    """The same key by two anonymous callers (two mobiles) is two commands, each with its own answer."""
    a, b = registration(api), registration(api)
    ra = api.post("/api/v1/users", json=a, headers=with_key("shared-key"))
    rb = api.post("/api/v1/users", json=b, headers=with_key("shared-key"))
    assert (ra.status_code, rb.status_code) == (201, 201), (ra.text, rb.text)
    assert ra.json()["user_id"] != rb.json()["user_id"]
    # asking for an SMS code: each mobile gets its own
    mobiles = new_mobile(), new_mobile()
    for mobile in mobiles:
        r = api.post("/api/v1/sms-codes", json={"mobile": mobile, "purpose": "register"},
                     headers=with_key("shared-sms-key"))
        assert r.status_code == 202, r.text
    codes = [sms.latest_code(m, "register") for m in mobiles]  # each waits (bounded) for its SMS
    assert all(codes) and [len(sms.messages(m)) for m in mobiles] == [1, 1]
    # logging in: each account gets a session of its own user
    accounts = [register(api)[:2] for _ in range(2)]
    sessions = [api.post("/api/v1/sessions", json={"method": "password", "account": mobile, "password": PASSWORD},
                         headers=with_key("shared-login-key")) for _, mobile in accounts]
    assert [s.status_code for s in sessions] == [201, 201], [s.text for s in sessions]
    assert [s.json()["user_id"] for s in sessions] == [user_id for user_id, _ in accounts]


def test_two_users_sending_the_same_key_and_body_run_two_commands(api):
    """Keys are scoped to the token's user: the same Idempotency-Key with the same body by two
    logged-in users is two applications, and neither user is answered the other's."""
    _, admin_mobile, _ = register(api)
    uscc = new_uscc()
    admin = api.post("/api/v1/sessions", json={"method": "password", "account": admin_mobile,
                                               "password": PASSWORD}).json()["access_token"]
    registered = api.post("/api/v1/associations", token=admin, headers=with_key("same-key"), json={
        "uscc": uscc, "role": "admin", "name": "杭州同键贸易有限公司", "address": "杭州", "business_scope": "进出口"})
    assert registered.status_code == 201, registered.text
    tokens = []
    for _ in range(2):
        _, mobile, _ = register(api)
        tokens.append(api.post("/api/v1/sessions", json={"method": "password", "account": mobile,
                                                         "password": PASSWORD}).json()["access_token"])
    body = {"uscc": uscc, "role": "user"}
    applied = [api.post("/api/v1/associations", json=body, token=t, headers=with_key("same-key")) for t in tokens]
    assert [r.status_code for r in applied] == [202, 202], [r.text for r in applied]
    ids = [r.json()["association_id"] for r in applied]
    assert len(set(ids + [registered.json()["association_id"]])) == 3
    for token, association_id, first in zip(tokens, ids, applied, strict=True):
        again = api.post("/api/v1/associations", json=body, token=token, headers=with_key("same-key"))
        assert (again.status_code, again.json()) == (202, first.json())  # each user's retry: their own answer
        mine = api.get("/api/v1/me", token=token).json()["associations"]
        assert [a["association_id"] for a in mine] == [association_id]


@pytest.mark.parametrize("key", ["", "x" * 129, "has space", "密钥", "tab\there"])
def test_a_malformed_key_is_400_naming_the_header(api, key):
    mobile = new_mobile()
    r = api.post("/api/v1/sms-codes", json={"mobile": mobile, "purpose": "register"},
                 headers={"Idempotency-Key": key.encode("utf-8")})
    body = http_error(r, 400, "VALIDATION_ERROR")
    assert "Idempotency-Key" in body["details"]
    assert sms.messages(mobile) == []


def test_a_retried_login_answers_the_same_session(api):
    _, mobile, _ = register(api)
    body = {"method": "password", "account": mobile, "password": PASSWORD}
    first = api.post("/api/v1/sessions", json=body, headers=with_key("login-1"))
    again = api.post("/api/v1/sessions", json=body, headers=with_key("login-1"))
    assert first.status_code == again.status_code == 201
    assert again.json()["access_token"] == first.json()["access_token"]
    other = api.post("/api/v1/sessions", json=body, headers=with_key("login-2"))
    assert other.json()["access_token"] != first.json()["access_token"]


def test_a_retried_association_by_a_logged_in_user_associates_once(api):
    _, mobile, _ = register(api)
    token = api.post("/api/v1/sessions", json={"method": "password", "account": mobile,
                                               "password": PASSWORD}).json()["access_token"]
    body = {"uscc": new_uscc(), "role": "admin", "name": "杭州测试贸易有限公司", "address": "杭州",
            "business_scope": "进出口"}
    first = api.post("/api/v1/associations", json=body, token=token, headers=with_key("assoc-1"))
    assert first.status_code == 201, first.text
    again = api.post("/api/v1/associations", json=body, token=token, headers=with_key("assoc-1"))
    assert (again.status_code, again.json()) == (201, first.json())
    http_error(api.post("/api/v1/associations", json=body, token=token), 409, "ENTERPRISE_HAS_ADMIN")


def test_openapi_publishes_the_header(api):
    spec = api.get("/openapi.json").json()
    params = spec["paths"]["/api/v1/users"]["post"]["parameters"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in params)
    assert "422" in spec["paths"]["/api/v1/users"]["post"]["responses"]

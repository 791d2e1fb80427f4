"""The identity part of the HTTP API (shared/API.md), end to end against the launched platform.

Runs with the whole platform, or with E2E_SERVICES=identity,notify,gateway.
"""
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests import sms
from tests.factories import new_id_number, new_mobile
from tests.e2e.identity_steps import PASSWORD, ask_code, register, login
from tests.support import http_error

pytestmark = pytest.mark.e2e

HUGE = "1" * 10_000


def stored_events():
    """Rows in identity's event store, read from its SQLite file (read-only, beside the service)."""
    path = os.path.join(os.environ["EPORT_VAR"], "identity.db")
    if not os.path.exists(path):
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]
    except sqlite3.OperationalError:  # the table does not exist yet
        return 0
    finally:
        db.close()


def test_register_login_logout_sms_login_reset(api):
    user_id, mobile, id_number = register(api)

    r = login(api, mobile)
    assert r.status_code == 201, r.text
    session = r.json()
    assert session["token_type"] == "Bearer" and session["expires_in"] == 1800 and session["user_id"] == user_id
    token = session["access_token"]
    assert api.delete("/api/v1/sessions/current", token=token).status_code == 204
    http_error(api.delete("/api/v1/sessions/current", token=token), 401, "UNAUTHENTICATED")  # refused from then on

    r = login(api, id_number)  # the ID number is an account name too
    assert r.status_code == 201 and r.json()["user_id"] == user_id

    ask_code(api, mobile, "login")
    r = api.post("/api/v1/sessions", json={"method": "sms", "mobile": mobile,
                                           "sms_code": sms.latest_code(mobile, "login")})
    assert r.status_code == 201 and r.json()["user_id"] == user_id

    ask_code(api, mobile, "reset_password")
    r = api.post("/api/v1/password-resets", json={"mobile": mobile,
                                                  "sms_code": sms.latest_code(mobile, "reset_password"),
                                                  "new_password": "a brand new passphrase"})
    assert r.status_code == 204, r.text
    http_error(login(api, mobile), 401, "INVALID_CREDENTIALS")
    assert login(api, mobile, "a brand new passphrase").status_code == 201


def test_change_password_needs_the_bearer_and_current_password(api):
    user_id, mobile, _ = register(api)
    other_id, other_mobile, _ = register(api)
    token = login(api, mobile).json()["access_token"]
    path = f"/api/v1/users/{user_id}/password"
    http_error(api.put(path, json={"password": "new passphrase here", "current_password": PASSWORD}),
             401, "UNAUTHENTICATED")
    http_error(api.put(path, token=token, json={"password": "new passphrase here", "current_password": "wrong!!"}),
             401, "INVALID_CREDENTIALS")
    http_error(api.put(f"/api/v1/users/{other_id}/password", token=token,
                     json={"password": "new passphrase here", "current_password": PASSWORD}), 403, "FORBIDDEN")
    assert api.put(path, token=token, json={"password": "new passphrase here",
                                            "current_password": PASSWORD}).status_code == 204
    assert login(api, mobile, "new passphrase here").status_code == 201


def test_weak_passwords_say_why(api):
    mobile, id_number = new_mobile(), new_id_number()
    code = ask_code(api, mobile, "register")
    user = api.post("/api/v1/users", json={"name": "张三", "id_type": "resident_id", "id_number": id_number,
                                           "mobile": mobile, "sms_code": code}).json()
    path = f"/api/v1/users/{user['user_id']}/password"
    for weak, why in (("short", "at least 8"), ("password1", "common"), (f"x{mobile}x", "mobile"),
                      (f"{id_number.lower()}", "ID number"), ("y" * 65, "at most 64")):
        body = http_error(api.put(path, json={"password": weak, "password_setup_token": user["password_setup_token"]}),
                        400, "WEAK_PASSWORD")
        assert any(why in reason for reason in body["details"]["password"]), body
    assert api.put(path, json={"password": PASSWORD, "password_setup_token": user["password_setup_token"]}
                   ).status_code == 204
    http_error(api.put(path, json={"password": "another passphrase",
                                 "password_setup_token": user["password_setup_token"]}),
             401, "INVALID_CREDENTIALS")  # single use


def _valid(api):
    mobile = new_mobile()
    return {
        "sms": {"mobile": mobile, "purpose": "register"},
        "users": {"name": "张三", "id_type": "resident_id", "id_number": new_id_number(), "mobile": mobile,
                  "sms_code": "123456"},
        "password": {"password": PASSWORD, "password_setup_token": "t" * 43},
        "password_login": {"method": "password", "account": mobile, "password": PASSWORD},
        "sms_login": {"method": "sms", "mobile": mobile, "sms_code": "123456"},
        "card_login": {"method": "card", "challenge_id": "c", "certificate": "-----BEGIN", "signature": "AA=="},
        "reset": {"mobile": mobile, "sms_code": "123456", "new_password": PASSWORD},
    }


ENDPOINTS = {
    "sms": ("POST", "/api/v1/sms-codes"),
    "users": ("POST", "/api/v1/users"),
    "password": ("PUT", "/api/v1/users/00000000-0000-0000-0000-000000000000/password"),
    "password_login": ("POST", "/api/v1/sessions"),
    "sms_login": ("POST", "/api/v1/sessions"),
    "card_login": ("POST", "/api/v1/sessions"),
    "reset": ("POST", "/api/v1/password-resets"),
}

MISSING = object()
BAD_FIELDS = [
    ("sms", "mobile", ["1330650611a", "", HUGE, 13306506117, None, ["13306506117"], "12306506117", MISSING]),
    ("sms", "purpose", ["spam", "", HUGE, 1, MISSING]),
    ("users", "name", ["", "X", HUGE, 123, "张三123", MISSING]),
    ("users", "id_type", ["passport", HUGE, 1, None]),
    ("users", "id_number", ["110105199001010021", "11010519900101002", "11010519901301002X", "",
                            HUGE, 110105199001010021, "ABCDEFGHIJKLMNOPQR", MISSING]),
    ("users", "mobile", ["133o6506117", "", HUGE, 13306506117, MISSING]),
    ("users", "sms_code", ["12a456", "1234567", "", HUGE, 123456, MISSING]),
    ("password", "password", ["", HUGE, 12345678, None, MISSING]),
    ("password", "password_setup_token", [HUGE, 5, "", MISSING]),
    ("password_login", "method", ["magic", 5, "", HUGE, MISSING]),
    ("password_login", "account", ["abc", "", HUGE, 13306506117, "110105199001010021", MISSING]),
    ("password_login", "password", ["", HUGE, 1234, MISSING]),
    ("sms_login", "mobile", ["1330650611", HUGE, 1, MISSING]),
    ("sms_login", "sms_code", ["12345", HUGE, 123456, "", MISSING]),
    ("card_login", "challenge_id", [HUGE, 1, "", MISSING]),
    ("card_login", "certificate", ["c" * 20_000, 1, MISSING]),
    ("card_login", "signature", [HUGE, 1, MISSING]),
    ("reset", "mobile", ["abc", HUGE, MISSING]),
    ("reset", "sms_code", ["abcdef", HUGE, MISSING]),
    ("reset", "new_password", ["", HUGE, 12345678, MISSING]),
]


@pytest.mark.parametrize("endpoint, field, values", BAD_FIELDS, ids=[f"{e}.{f}" for e, f, _ in BAD_FIELDS])
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(api, endpoint, field, values):
    method, path = ENDPOINTS[endpoint]
    before = stored_events()
    for value in values:
        body = _valid(api)[endpoint]
        if value is MISSING:
            del body[field]
        else:
            body[field] = value
        r = api.call(method, path, json=body)
        error = http_error(r, 400, "VALIDATION_ERROR")
        assert field in error["details"], (field, repr(value)[:40], error)
    assert stored_events() == before


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_a_body_that_is_not_json_or_not_an_object_is_a_400(api, endpoint):
    method, path = ENDPOINTS[endpoint]
    before = stored_events()
    for raw in (b"{not json", b"\xff\xfe", b"[1, 2]", b"42", b"null"):
        r = api.call(method, path, data=raw, headers={"Content-Type": "application/json"})
        http_error(r, 400, "VALIDATION_ERROR")
    assert stored_events() == before


def test_sms_cooldown_and_no_enumeration(api):
    _, mobile, _ = register(api)
    stranger = new_mobile()
    for who in (mobile, stranger):
        ask_code(api, who, "login")
        body = http_error(api.post("/api/v1/sms-codes", json={"mobile": who, "purpose": "login"}), 429, "SMS_COOLDOWN")
        assert isinstance(body["details"]["retry_after"], int) and 55 <= body["details"]["retry_after"] <= 60
    assert sms.latest_code(mobile, "login")
    assert [m for m in sms.messages(stranger)] == []  # nothing sent to an unknown number


def test_sms_code_single_use_and_bound_to_its_purpose(api):
    _, mobile, _ = register(api)
    ask_code(api, mobile, "reset_password")
    reset_code = sms.latest_code(mobile, "reset_password")
    http_error(api.post("/api/v1/sessions", json={"method": "sms", "mobile": mobile, "sms_code": reset_code}),
             401, "INVALID_CREDENTIALS")
    ask_code(api, mobile, "login")
    code = sms.latest_code(mobile, "login")
    assert api.post("/api/v1/sessions", json={"method": "sms", "mobile": mobile, "sms_code": code}).status_code == 201
    http_error(api.post("/api/v1/sessions", json={"method": "sms", "mobile": mobile, "sms_code": code}),
             401, "INVALID_CREDENTIALS")


def test_five_wrong_codes_block_verification(api):
    mobile = new_mobile()
    code = ask_code(api, mobile, "register")
    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    body = {"name": "张三", "id_number": new_id_number(), "mobile": mobile, "sms_code": wrong}
    for _ in range(4):
        http_error(api.post("/api/v1/users", json=body), 400, "SMS_CODE_INVALID")
    blocked = http_error(api.post("/api/v1/users", json=body), 429, "SMS_CODE_ATTEMPTS_EXCEEDED")
    assert 895 <= blocked["details"]["retry_after"] <= 900
    http_error(api.post("/api/v1/users", json=dict(body, sms_code=code)), 429, "SMS_CODE_ATTEMPTS_EXCEEDED")


def test_lockout_after_five_failures_and_reset_lifts_it(api):
    _, mobile, id_number = register(api)
    unknown = http_error(login(api, new_mobile(), "wrong password"), 401, "INVALID_CREDENTIALS")
    for _ in range(4):
        assert http_error(login(api, mobile, "wrong password"), 401, "INVALID_CREDENTIALS") == unknown
    locked = http_error(login(api, mobile, "wrong password"), 423, "ACCOUNT_LOCKED")
    assert 895 <= locked["details"]["retry_after"] <= 900
    http_error(login(api, id_number), 423, "ACCOUNT_LOCKED")  # the right password, the other account name
    ask_code(api, mobile, "reset_password")
    r = api.post("/api/v1/password-resets", json={"mobile": mobile,
                                                  "sms_code": sms.latest_code(mobile, "reset_password"),
                                                  "new_password": "a brand new passphrase"})
    assert r.status_code == 204
    assert login(api, mobile, "a brand new passphrase").status_code == 201


def test_reset_with_a_wrong_code_or_a_weak_password(api):
    _, mobile, _ = register(api)
    ask_code(api, mobile, "reset_password")
    code = sms.latest_code(mobile, "reset_password")
    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    http_error(api.post("/api/v1/password-resets", json={"mobile": mobile, "sms_code": wrong,
                                                       "new_password": "a brand new passphrase"}),
             400, "SMS_CODE_INVALID")
    weak = http_error(api.post("/api/v1/password-resets", json={"mobile": mobile, "sms_code": code,
                                                              "new_password": "qwerty123"}), 400, "WEAK_PASSWORD")
    assert weak["details"]["new_password"]
    assert api.post("/api/v1/password-resets", json={"mobile": mobile, "sms_code": code,
                                                     "new_password": "a brand new passphrase"}).status_code == 204


def _race(api, bodies):
    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        responses = list(pool.map(lambda body: api.__class__(api.base).post("/api/v1/users", json=body), bodies))
    return sorted((r.status_code, r.json().get("error", {}).get("code", "")) for r in responses)


@pytest.mark.slow
def test_fifty_parallel_registrations_with_one_id_number(api):
    id_number = new_id_number()
    mobiles = [new_mobile() for _ in range(50)]
    codes = {m: ask_code(api, m, "register") for m in mobiles}
    outcomes = _race(api, [{"name": "张三", "id_number": id_number, "mobile": m, "sms_code": codes[m]}
                           for m in mobiles])
    assert outcomes == [(201, "")] + [(409, "ID_NUMBER_TAKEN")] * 49


@pytest.mark.slow
def test_fifty_parallel_registrations_with_one_mobile(api):
    mobile = new_mobile()
    code = ask_code(api, mobile, "register")
    outcomes = _race(api, [{"name": "张三", "id_number": new_id_number(), "mobile": mobile, "sms_code": code}
                           for _ in range(50)])
    assert outcomes == [(201, "")] + [(400, "SMS_CODE_INVALID")] * 49  # one code, spent by the winner


def test_openapi_documents_the_identity_routes(api):
    paths = api.get("/openapi.json").json()["paths"]
    for path, method in (("/api/v1/sms-codes", "post"), ("/api/v1/users", "post"),
                         ("/api/v1/users/{user_id}/password", "put"), ("/api/v1/sessions", "post"),
                         ("/api/v1/sessions/current", "delete"), ("/api/v1/password-resets", "post")):
        assert method in paths[path], path
    assert "429" in paths["/api/v1/sms-codes"]["post"]["responses"]
    assert "423" in paths["/api/v1/sessions"]["post"]["responses"]

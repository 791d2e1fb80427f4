"""What a third party does to an account never keeps its owner out (API.md, "General rules, added"),
over HTTP against the launched platform, the third party and the owner on addresses of their own
(each address of 127.0.0.0/8 is a client): five wrong passwords lock password logins only, and the
third party's SMS code requests spend its own cooldown and quota, not the owner's."""
import pytest

from tests.e2e.enterprise_people import PASSWORD, register
from tests.factories import new_mobile
from tests.sms import messages
from tests.support import FromAddress, wait_for

pytestmark = pytest.mark.e2e

THIRD_PARTY, OWNER = "127.0.0.2", "127.0.0.3"


def clients(platform):
    port = int(platform.env["GATEWAY_PORT"])
    return FromAddress(port, THIRD_PARTY), FromAddress(port, OWNER)


def newest_code(mobile, purpose, count):
    """The code of the `count`-th SMS of `purpose` to `mobile`, once it has arrived."""
    sent = wait_for(lambda: [m for m in messages(mobile) if m["purpose"] == purpose][count - 1:] or None,
                    timeout=10, what=f"SMS number {count}")
    return sent[0]["code"]


def test_a_third_partys_sms_requests_spend_its_own_cooldown_not_the_owners(api, platform):
    person = register(api)
    third, owner = clients(platform)
    ask = {"mobile": person.mobile, "purpose": "reset_password"}
    assert third.call("POST", "/api/v1/sms-codes", ask)[0] == 202
    status, body, _ = third.call("POST", "/api/v1/sms-codes", ask)
    assert (status, body["error"]["code"]) == (429, "SMS_COOLDOWN")
    assert owner.call("POST", "/api/v1/sms-codes", ask)[0] == 202  # the cooldown was the third party's
    reset = {"mobile": person.mobile, "sms_code": newest_code(person.mobile, "reset_password", 2),
             "new_password": "the owner's new passphrase"}
    assert owner.call("POST", "/api/v1/password-resets", reset)[0] == 204


def test_a_third_partys_wrong_passwords_lock_password_logins_only_and_tell_nothing(api, platform):
    person = register(api)
    third, owner = clients(platform)
    wrong = [third.call("POST", "/api/v1/sessions", {"method": "password", "account": account,
                                                     "password": "not the password"})[:2]
             for account in (person.mobile, new_mobile()) for _ in range(5)]
    assert wrong[:5] == wrong[5:]  # an account that exists and one that does not: the same answers
    assert [status for status, _ in wrong[:5]] == [401] * 4 + [423]
    status, body, _ = owner.call("POST", "/api/v1/sessions", {"method": "password", "account": person.mobile,
                                                              "password": PASSWORD})
    assert (status, body["error"]["code"]) == (423, "ACCOUNT_LOCKED")
    assert owner.call("POST", "/api/v1/sms-codes", {"mobile": person.mobile, "purpose": "login"})[0] == 202
    status, body, _ = owner.call("POST", "/api/v1/sessions", {
        "method": "sms", "mobile": person.mobile, "sms_code": newest_code(person.mobile, "login", 1)})
    assert status == 201 and body["user_id"] == person.user_id


def present(client, mobile, purpose, code):
    """(status, error code or None) of an SMS code presented for `purpose`: a reset or a login."""
    if purpose == "login":
        status, body, _ = client.call("POST", "/api/v1/sessions", {"method": "sms", "mobile": mobile,
                                                                    "sms_code": code})
    else:
        status, body, _ = client.call("POST", "/api/v1/password-resets", {
            "mobile": mobile, "sms_code": code, "new_password": "a brand new passphrase"})
    return status, (body or {}).get("error", {}).get("code")


@pytest.mark.parametrize("purpose, wrong", [("reset_password", (400, "SMS_CODE_INVALID")),
                                            ("login", (401, "INVALID_CREDENTIALS"))])
def test_a_third_partys_wrong_sms_codes_never_keep_the_owner_out(api, platform, purpose, wrong):
    """Five wrong codes burn the code they were tried against and block the third party alone: the
    owner asks a new code from the owner's own address and uses it at once."""
    person = register(api)
    third, owner = clients(platform)
    ask = {"mobile": person.mobile, "purpose": purpose}
    assert third.call("POST", "/api/v1/sms-codes", ask)[0] == 202
    code = newest_code(person.mobile, purpose, 1)
    guesses = [f"{(int(code) + k) % 10 ** 6:06d}" for k in range(1, 6)]
    answers = [present(third, person.mobile, purpose, guess) for guess in guesses]
    assert answers == [wrong] * 4 + [(429, "SMS_CODE_ATTEMPTS_EXCEEDED")]
    assert present(owner, person.mobile, purpose, code) == wrong  # burnt: told apart from no wrong code
    assert owner.call("POST", "/api/v1/sms-codes", ask)[0] == 202
    assert present(owner, person.mobile, purpose, newest_code(person.mobile, purpose, 2))[0] in (201, 204)
    assert third.call("POST", "/api/v1/sms-codes", ask)[1]["error"]["code"] == "SMS_CODE_ATTEMPTS_EXCEEDED"

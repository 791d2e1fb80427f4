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

"""A person's copy of their data (shared/API.md "Personal data", issue 24 item 3): the SMS purpose
personal_data, then POST /api/v1/me/export."""
import pytest

from tests import sms
from tests.e2e.identity_steps import error_of, login, register

pytestmark = pytest.mark.e2e


def logged_in(api, name="张三"):
    user_id, mobile, id_number = register(api, name=name)
    r = login(api, mobile)
    assert r.status_code == 201, r.text
    return user_id, mobile, id_number, r.json()["access_token"]


def personal_code(api, token, mobile):
    r = api.post("/api/v1/sms-codes", token=token, json={"mobile": mobile, "purpose": "personal_data"})
    assert r.status_code == 202, r.text
    return sms.latest_code(mobile, "personal_data")


def test_a_personal_data_code_needs_the_token_and_goes_to_the_own_mobile_only(api):
    _, mobile, _, token = logged_in(api)
    _, neighbours_mobile, _, _ = logged_in(api)
    r = api.post("/api/v1/sms-codes", json={"mobile": mobile, "purpose": "personal_data"})
    error_of(r, 401, "UNAUTHENTICATED")
    r = api.post("/api/v1/sms-codes", token=token, json={"mobile": neighbours_mobile, "purpose": "personal_data"})
    error_of(r, 403, "FORBIDDEN")
    assert not [m for m in sms.messages(neighbours_mobile) if m["purpose"] == "personal_data"]
    assert len(personal_code(api, token, mobile)) == 6

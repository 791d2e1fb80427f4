"""A person's copy of their data (shared/API.md "Personal data", issue 24 item 3): the SMS purpose
personal_data, then POST /api/v1/me/export."""
import json

import jsonschema
import pytest

from contracts.personal_data import export_schema
from tests import sms
from tests.e2e.conftest import skip_unless_deployed
from tests.e2e.identity_steps import login
from tests.e2e.identity_steps import register as register_by_hand
from tests.e2e.personal_data_steps import (SYSTEMS, export, member_with_everything, neighbour_and_enterprise,
                                           rare_name)
from tests.support import http_error

pytestmark = pytest.mark.e2e


def logged_in(api, name="张三"):
    user_id, mobile, id_number = register_by_hand(api, name=name)
    r = login(api, mobile)
    assert r.status_code == 201, r.text
    return user_id, mobile, id_number, r.json()["access_token"]


def test_a_personal_data_code_needs_the_token_and_goes_to_the_own_mobile_only(api):
    _, mobile, _, token = logged_in(api)
    _, neighbours_mobile, _, _ = logged_in(api)
    r = api.post("/api/v1/sms-codes", json={"mobile": mobile, "purpose": "personal_data"})
    http_error(r, 401, "UNAUTHENTICATED")
    r = api.post("/api/v1/sms-codes", token=token, json={"mobile": neighbours_mobile, "purpose": "personal_data"})
    http_error(r, 403, "FORBIDDEN")
    assert not [m for m in sms.messages(neighbours_mobile) if m["purpose"] == "personal_data"]
    r = api.post("/api/v1/sms-codes", token=token, json={"mobile": mobile, "purpose": "personal_data"})
    assert r.status_code == 202, r.text
    assert len(sms.latest_code(mobile, "personal_data")) == 6


@pytest.fixture(scope="module")
def member(api, platform):
    skip_unless_deployed(platform, {"identity", "enterprise", "card", "authz", "notify", "audit", "sso", "gateway"})
    neighbour = neighbour_and_enterprise(api)
    return neighbour, member_with_everything(api, neighbour, name=rare_name())


def test_the_export_is_everything_held_about_the_caller_unmasked_and_matches_its_schema(api, member):
    neighbour, member = member
    person = member.person
    r = export(api, person)
    assert r.status_code == 200, r.text
    document = r.json()
    jsonschema.Draft202012Validator(export_schema(), format_checker=jsonschema.FormatChecker()).validate(document)
    assert document["user_id"] == person.user_id
    account = document["account"]
    assert (account["name"], account["id_number"], account["mobile"]) == (person.name, person.id_number, person.mobile)
    assert {ev["fields"]["method"] for ev in document["logins"] if ev["type"] == "User.LoggedIn"} >= \
        {"password", "sms", "card"}
    [association] = document["associations"]
    assert (association["enterprise_id"], association["status"], association["user_name"]) == \
        (member.enterprise_id, "approved", person.name)
    [binding] = document["card_bindings"]
    assert binding["card_no"] == member.card_no and binding["bound"]
    assert member.cert_sha256 in json.dumps(document["cards"])
    challenges = {(ev["type"].split(".")[0], ev["fields"].get("purpose")) for ev in document["card_challenges"]}
    assert {("Challenge", "bind"), ("LoginChallengeSpent", None)} <= challenges, challenges
    [grant] = document["grants"]
    assert grant["enterprise_id"] == member.enterprise_id and grant["systems"] == SYSTEMS
    assert {m["kind"] for m in document["inbox"]} >= {"association_approved"}
    assert {"UserRegistered", "UserLoggedIn", "AssociationApproved", "CardBound"} <= \
        {a["event_type"] for a in document["audit"]}
    other = neighbour.person  # the administrator who approved and granted: nothing of theirs but the id
    assert other.id_number not in r.text and other.mobile not in r.text


def test_one_code_serves_one_export(api):
    user_id, mobile, _, token = logged_in(api)
    r = api.post("/api/v1/sms-codes", token=token, json={"mobile": mobile, "purpose": "personal_data"})
    assert r.status_code == 202, r.text
    code = sms.latest_code(mobile, "personal_data")
    wrong = "000000" if code != "000000" else "111111"
    http_error(api.post("/api/v1/me/export", token=token, json={"sms_code": wrong}), 400, "SMS_CODE_INVALID")
    r = api.post("/api/v1/me/export", token=token, json={"sms_code": code})
    assert r.status_code == 200 and r.json()["account"]["mobile"] == mobile, r.text
    http_error(api.post("/api/v1/me/export", token=token, json={"sms_code": code}), 400, "SMS_CODE_INVALID")


def test_the_export_needs_the_callers_token(api):
    r = api.post("/api/v1/me/export", json={"sms_code": "123456"})
    http_error(r, 401, "UNAUTHENTICATED")

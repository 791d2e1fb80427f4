"""The SMS purpose personal_data (shared/API.md "Personal data"): asked with the caller's account, to
its own mobile only; one code serves one export or one erasure request, refused or not."""
import pytest

from contracts import errors as e
from contracts.errors import DomainError
from services.common.commands import CommandRun
from tests.factories import new_mobile
from tests.peers import FakeIdentityPeers
from tests import identity_support as identity
from tests.identity_support import event_count, registered
from tests.support import raises_code

pytestmark = pytest.mark.unit
clock, app = identity.clock, identity.app  # the fixtures: the application on the memory store, its clock


def personal_code(app, user_id, mobile):
    peers = FakeIdentityPeers()
    answer = app.request_sms_code(mobile, "personal_data", None, user_id, peers=peers)
    [delivery] = peers.sms
    assert answer == {"expires_in": 300, "resend_after": 60} and delivery["deliver"]
    assert "个人数据" in delivery["text"] and delivery["purpose"] == "personal_data"
    return delivery["code"]


def spend(app, user_id, code):
    """As a command spending the code would (an export's or an erasure's: its run, without a command id)."""
    run = CommandRun(app)
    user = app.sms_checks.own_account(user_id)
    box = app.sms_checks.spend_personal_data_code(run, user, code, app.clock())
    run.save(box, answer=None)


def test_the_code_goes_to_the_accounts_own_mobile(app, clock):
    user_id, mobile, _ = registered(app, clock)
    assert len(personal_code(app, user_id, mobile)) == 6


def test_another_mobile_is_forbidden_and_nothing_is_stored(app, clock):
    user_id, _, _ = registered(app, clock)
    _, neighbours_mobile, _ = registered(app, clock)
    before = event_count(app)
    for mobile in (neighbours_mobile, new_mobile()):
        assert raises_code(app.request_sms_code, mobile, "personal_data", None, user_id) == e.FORBIDDEN
    assert event_count(app) == before


def test_it_needs_a_live_account(app, clock):
    _, mobile, _ = registered(app, clock)
    for actor in (None, "00000000-0000-4000-8000-000000000000", 42):
        assert raises_code(app.request_sms_code, mobile, "personal_data", None, actor) == e.UNAUTHENTICATED


def test_other_purposes_do_not_spend_it_nor_does_it_serve_them(app, clock):
    user_id, mobile, _ = registered(app, clock)
    code = personal_code(app, user_id, mobile)
    assert raises_code(app.login_sms, mobile, code) == e.INVALID_CREDENTIALS
    spend(app, user_id, code)


def test_a_code_serves_one_request_refused_or_not(app, clock):
    user_id, mobile, _ = registered(app, clock)
    code = personal_code(app, user_id, mobile)
    spend(app, user_id, code)
    assert raises_code(spend, app, user_id, code) == e.SMS_CODE_INVALID

    clock.advance(61)
    code = personal_code(app, user_id, mobile)

    class Refused(DomainError):
        code = e.CONFLICT

    def refused_request():  # e.g. an erasure refused for a legal hold: the code is spent all the same
        run = CommandRun(app)
        box = app.sms_checks.spend_personal_data_code(run, app.sms_checks.own_account(user_id), code, clock())
        run.refuse(Refused("refused"), box)

    assert raises_code(refused_request) == e.CONFLICT
    assert raises_code(spend, app, user_id, code) == e.SMS_CODE_INVALID


def test_a_wrong_code_is_counted_and_the_right_one_still_serves(app, clock):
    user_id, mobile, _ = registered(app, clock)
    code = personal_code(app, user_id, mobile)
    wrong = "000000" if code != "000000" else "111111"
    assert raises_code(spend, app, user_id, wrong) == e.SMS_CODE_INVALID
    assert app.sms_checks.box(app.digests.mobile(mobile)).failures_of("personal_data", clock()) == 1
    spend(app, user_id, code)

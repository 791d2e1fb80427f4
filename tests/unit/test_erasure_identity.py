"""Identity's part of an erasure (services/identity/erasures.py): the request and its refusals, the
account closed and its ID number and mobile released, the confirmations, the legal holds."""
import pytest

from contracts import errors as e
from services.common.deployment import BACKENDS
from services.identity.integration import to_integration
from tests import identity_support as identity
from tests.identity_support import PASSWORD, code_of, event_count, registered
from tests.peers import FakeIdentityPeers
from tests.support import raises_code

pytestmark = pytest.mark.unit
clock, app = identity.clock, identity.app  # the fixtures: the application on the memory store, its clock
SERVICES = sorted(BACKENDS)


def personal_code(app, user_id, mobile):
    return code_of(app, mobile, "personal_data", actor_user_id=user_id)


def erase(app, user_id, mobile, peers=None):
    clock = app.clock
    clock.advance(61)  # past the resend pause of the last code
    return app.request_erasure(user_id, personal_code(app, user_id, mobile), peers or FakeIdentityPeers(), SERVICES)


def published(app, event_type):
    events = app.recorder.select_notifications(start=1, limit=10_000)
    envelopes = [env for n in events for env in to_integration(app.mapper.to_domain_event(n))]
    return [env for env in envelopes if env["event_type"] == event_type]


def test_an_erasure_closes_the_account_releases_its_values_and_publishes_user_erased(app, clock):
    user_id, mobile, id_number = registered(app, clock)
    token = app.login_password(mobile, PASSWORD)["access_token"]
    answer = erase(app, user_id, mobile)
    erased_at = clock()
    assert answer["status"] == "pending"
    assert raises_code(app.authenticate, token) == e.UNAUTHENTICATED  # its sessions ended at once
    for account in (mobile, id_number):  # no login by password...
        assert raises_code(app.login_password, account, PASSWORD) == e.INVALID_CREDENTIALS
    clock.advance(61)
    assert code_of(app, mobile, "login") is None  # ... nor by SMS: the mobile is nobody's now
    assert raises_code(app.start_card_session, user_id, "CARD0001") == e.INVALID_CREDENTIALS  # nor by card
    assert [env["payload"] for env in published(app, "UserErased")] == [
        {"user_id": user_id, "erasure_id": answer["erasure_id"]}]
    assert {"user_id": user_id, "ended_at": erased_at + 1} in app.sessions_ended_by_reset()
    assert raises_code(app.get_user, user_id) == e.USER_NOT_FOUND and app.get_users([user_id]) == {}


def test_the_id_number_and_mobile_register_again(app, clock):
    user_id, mobile, id_number = registered(app, clock)
    erase(app, user_id, mobile)
    clock.advance(61)
    again = app.register("李四", None, id_number, mobile, code_of(app, mobile, "register"))
    assert again["user_id"] != user_id
    app.set_password(again["user_id"], PASSWORD, password_setup_token=again["password_setup_token"])
    assert app.login_password(id_number, PASSWORD)["user_id"] == again["user_id"]


def test_a_repeated_request_answers_the_same_erasure(app, clock):
    user_id, mobile, _ = registered(app, clock)
    first = erase(app, user_id, mobile)
    before = event_count(app)
    assert app.request_erasure(user_id, "123456", FakeIdentityPeers(), SERVICES) == first
    assert event_count(app) == before  # nothing new: not a second erasure, not a second UserErased
    assert len(app.erasures()) == 1


@pytest.mark.parametrize("code", [e.LEGAL_HOLD, e.ADMIN_HAS_MEMBERS])
def test_a_refusal_erases_nothing_and_spends_the_code(app, clock, code):
    user_id, mobile, _ = registered(app, clock)
    peers = FakeIdentityPeers()
    if code == e.LEGAL_HOLD:
        app.set_legal_hold(user_id, True, "a court's order", by="operator")
    else:
        peers.administering.add(user_id)
    clock.advance(61)
    sms_code = personal_code(app, user_id, mobile)
    assert raises_code(app.request_erasure, user_id, sms_code, peers, SERVICES) == code
    assert app.login_password(mobile, PASSWORD)["user_id"] == user_id  # the account lives on
    assert not published(app, "UserErased")
    assert [(r["status"], r["refusal"]) for r in app.erasures()] == [("refused", code)]
    # the code served that request: a second one with it is refused, for the code, not the hold
    assert raises_code(app.request_erasure, user_id, sms_code, FakeIdentityPeers(), SERVICES) == e.SMS_CODE_INVALID


def test_a_lifted_hold_lets_the_erasure_through(app, clock):
    user_id, mobile, _ = registered(app, clock)
    app.set_legal_hold(user_id, True, "an inquiry", by="operator")
    assert app.set_legal_hold(user_id, False, "closed", by="operator")["held"] is False
    assert erase(app, user_id, mobile)["status"] == "pending"


def test_a_wrong_code_refuses_and_changes_nothing_but_the_count(app, clock):
    user_id, mobile, _ = registered(app, clock)
    personal_code(app, user_id, mobile)
    assert raises_code(app.request_erasure, user_id, "000000", FakeIdentityPeers(), SERVICES) in (
        e.SMS_CODE_INVALID,)
    assert raises_code(app.request_erasure, user_id, "12ab", FakeIdentityPeers(), SERVICES) == e.VALIDATION_ERROR
    assert app.erasures() == [] and app.login_password(mobile, PASSWORD)["user_id"] == user_id


def test_done_when_every_service_confirmed_each_once(app, clock):
    user_id, mobile, _ = registered(app, clock)
    erasure_id = erase(app, user_id, mobile)["erasure_id"]
    for service in SERVICES[:-1]:
        assert app.confirm_erasure(erasure_id, service) is True
        assert app.confirm_erasure(erasure_id, service) is False  # a redelivery records nothing
    assert app.confirm_erasure(erasure_id, "gateway") is False  # not a service that holds data
    assert app.erasure_of(erasure_id)["status"] == "pending"
    app.confirm_erasure(erasure_id, SERVICES[-1])
    row = app.erasure_of(erasure_id)
    assert (row["status"], row["services_confirmed"], row["user_id"]) == ("done", SERVICES, user_id)
    assert row["completed_at"] is not None
    [completed] = published(app, "ErasureCompleted")
    assert completed["payload"] == {"erasure_id": erasure_id, "user_id": user_id, "requested_by": user_id,
                                    "services": ",".join(SERVICES)}


def test_a_legal_hold_needs_a_known_account_and_a_reason(app, clock):
    user_id, _, _ = registered(app, clock)
    assert raises_code(app.set_legal_hold, "0f0e0d0c-0b0a-4909-8807-060504030201", True, "x", "op") == \
        e.USER_NOT_FOUND
    assert raises_code(app.set_legal_hold, user_id, True, "  ", "op") == e.VALIDATION_ERROR


def test_personal_data_code_rule_one_code_not_export_then_erasure_nor_anothers(app, clock):
    """A code spent by an export does not erase, and the code sent to another account's mobile
    (its holder's) erases neither account: each is SMS_CODE_INVALID and nothing is erased."""
    user_id, mobile, _ = registered(app, clock)
    other_id, other_mobile, _ = registered(app, clock)
    code = personal_code(app, user_id, mobile)
    app.spend_export_code(user_id, code)
    peers = FakeIdentityPeers()
    assert raises_code(app.request_erasure, user_id, code, peers, SERVICES) == e.SMS_CODE_INVALID
    others = personal_code(app, other_id, other_mobile)
    assert raises_code(app.request_erasure, user_id, others, peers, SERVICES) == e.SMS_CODE_INVALID
    assert published(app, "UserErased") == []
    assert app.get_user(user_id)["user_id"] == user_id and app.get_user(other_id)["user_id"] == other_id
    assert app.request_erasure(other_id, others, peers, SERVICES)["status"] == "pending"  # still the holder's

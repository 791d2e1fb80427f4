"""实名认证 in the identity application, on the in-memory store: a claim with a proved card makes the
holder's account and supersedes an unverified one holding the ID number; a verified one cannot be
taken; a bound card verifies. The card's proof itself is the card service's (test_card_identity_claims.py)."""
import pytest

from contracts import errors as e
from contracts.envelope import make_envelope
from contracts.card import CARD_BOUND
from services.identity.domain import User
from services.identity.integration import to_integration
from tests.factories import new_id_number, new_mobile
from tests import identity_support as identity
from tests.identity_support import PASSWORD, code_of, event_count, registered
from tests.support import raised as error

pytestmark = pytest.mark.unit
clock, app = identity.clock, identity.app  # the fixtures: the application on the memory store, its clock


def claim(app, id_number, mobile=None, name="张三", holder=("张三", None), code=None):
    mobile = mobile or new_mobile()
    code = code or code_of(app, mobile, "register")
    return app.claim_identity("8900000001", holder[0], holder[1] or id_number, name, None, id_number, mobile, code)


def bound(user_id, card_no="8900000002"):
    return make_envelope(CARD_BOUND, aggregate_id="5d0a4f7e-3c21-4b8e-9f6a-7e2b1c9d4a30", aggregate_version=1,
                         occurred_at="2026-12-07T08:00:00+00:00", payload={
                             "enterprise_id": "3c9b1a52-6f0e-4c1e-9a0b-2e4f8d7c5a11", "user_id": user_id,
                             "card_no": card_no, "card_type": "operator"})


def published(app, event_type):
    return [env for n in app.recorder.select_notifications(start=1, limit=1000)
            for env in to_integration(app.mapper.to_domain_event(n)) if env["event_type"] == event_type]


def test_claim_supersedes_the_squatter(app, clock):
    squatter_id, squatter_mobile, id_number = registered(app, clock)  # registered as 张三 with 张三's ID number
    token = app.login_password(squatter_mobile, PASSWORD)["access_token"]
    answer = claim(app, id_number)
    assert answer["identity_verified"] is True and answer["superseded_user_id"] == squatter_id
    # the squatter's session ends at once, and no way of logging in is left
    assert error(app.authenticate, token).code == e.UNAUTHENTICATED
    for account in (squatter_mobile, id_number):
        assert error(app.login_password, account, PASSWORD).code == e.INVALID_CREDENTIALS
    assert error(app.start_card_session, squatter_id, "8900000001").code == e.INVALID_CREDENTIALS
    assert app.holder_matches(squatter_id, "张三", id_number) is False
    assert app._user_by_mobile(squatter_mobile) is None  # no SMS login or reset to it either
    # the ID number belongs to the claimant now
    assert app.get_user(answer["user_id"])["identity_verified"] is True
    app.set_password(answer["user_id"], PASSWORD, password_setup_token=answer["password_setup_token"])
    assert app.login_password(id_number, PASSWORD)["user_id"] == answer["user_id"]
    assert {s["user_id"] for s in app.sessions_ended_by_reset()} == {squatter_id}


def test_claim_publishes_ids_only(app, clock):
    squatter_id, _, id_number = registered(app, clock)
    answer = claim(app, id_number)
    [superseded] = published(app, "UserSuperseded")
    assert superseded["payload"] == {"user_id": squatter_id, "by_user_id": answer["user_id"]}
    [verified] = published(app, "IdentityVerified")
    assert verified["payload"] == {"user_id": answer["user_id"], "via": "claim"}
    assert id_number not in str(superseded) + str(verified)


def test_a_card_of_another_person_is_refused_first(app, clock):
    _, _, id_number = registered(app, clock)
    before = event_count(app)
    for holder in (("张三", new_id_number()), ("李四", None)):
        # a wrong code too: the holder mismatch is decided before anything, and counts nothing
        assert error(claim, app, id_number, holder=holder, code="000000").code == e.CARD_HOLDER_MISMATCH
    assert event_count(app) == before


def test_a_verified_account_cannot_be_taken(app, clock):
    first = claim(app, new_id_number())
    id_number = app._user(first["user_id"]).id_number
    clock.advance(61)
    assert error(claim, app, id_number).code == e.ID_NUMBER_VERIFIED
    # an account verified by binding its card, too
    user_id, _, other = registered(app, clock)
    assert app.learn(bound(user_id)) is True and app.learn(bound(user_id)) is False  # once
    assert error(claim, app, other).code == e.ID_NUMBER_VERIFIED
    assert app.get_user(user_id)["identity_verified"] is True


def test_sms_code_and_mobile(app, clock):
    _, taken_mobile, _ = registered(app, clock)
    id_number = new_id_number()
    assert error(claim, app, id_number, code="000000").code == e.SMS_CODE_INVALID
    clock.advance(61)
    assert error(claim, app, id_number, mobile=taken_mobile).code == e.MOBILE_TAKEN
    # the superseded account's own mobile moves with the ID number (the claimant proved it by SMS)
    squatter_id, squatter_mobile, squatted = registered(app, clock)
    clock.advance(61)
    answer = claim(app, squatted, mobile=squatter_mobile)
    assert answer["superseded_user_id"] == squatter_id
    assert app._user_by_mobile(squatter_mobile).id == app._user(answer["user_id"]).id


def test_superseded_user_is_not_verified_by_a_late_binding(app, clock):
    squatter_id, _, id_number = registered(app, clock)
    claim(app, id_number)
    assert app.learn(bound(squatter_id)) is False
    assert isinstance(app._user(squatter_id), User) and not app._user(squatter_id).identity_verified


def test_a_third_partys_wrong_codes_on_claims_block_the_third_party_alone(app, clock):
    mobile, id_number = new_mobile(), new_id_number()
    code = code_of(app, mobile, "register", client="203.0.113.7")
    for k in range(1, 6):
        wrong = f"{(int(code) + k) % 10 ** 6:06d}"
        refusal = error(app.claim_identity, "8900000001", "张三", id_number, "张三", None, id_number, mobile, wrong,
                        "198.51.100.23")
    assert refusal.code == e.SMS_CODE_ATTEMPTS_EXCEEDED
    clock.advance(60)
    fresh = code_of(app, mobile, "register", client="203.0.113.7")
    answer = app.claim_identity("8900000001", "张三", id_number, "张三", None, id_number, mobile, fresh, "203.0.113.7")
    assert answer["identity_verified"] is True

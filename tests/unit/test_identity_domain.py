"""The identity domain's rules, aggregate by aggregate, with explicit times (no store, no clock)."""
import pytest

from contracts import errors as e
from contracts.errors import ServiceError
from services.common.digests import Digests
from services.identity.domain import (CODE_BURNT, CODE_EXPIRED, CODE_USED, CODE_VALID, CODE_WRONG, Limits, SmsBox,
                                     User)
from services.identity.passwords import common_passwords, weaknesses
from contracts.tokens import API_AUDIENCE, Tokens, load_private_keys, new_private_pem

pytestmark = pytest.mark.unit

LIMITS = Limits()
T0 = 1_800_000_000.0


def box_with_code(purpose="login", digest="d1", at=T0):
    box = SmsBox(mobile_digest="m")
    box.issue(purpose=purpose, code_digest=digest, at=at, expires_at=at + LIMITS.sms_code_ttl)
    return box


class TestSmsBox:
    def test_cooldown_is_60s_per_purpose(self):
        box = box_with_code("login")
        with pytest.raises(Exception) as err:
            box.check_can_request("login", T0 + 59, LIMITS)
        assert err.value.code == e.SMS_COOLDOWN and err.value.details == {"retry_after": 1}
        box.check_can_request("login", T0 + 60, LIMITS)
        box.check_can_request("register", T0 + 1, LIMITS)  # another purpose has its own cooldown

    def test_quota_of_10_per_mobile_in_24h(self):
        box = SmsBox(mobile_digest="m")
        for i in range(10):
            at = T0 + i * 100
            box.check_can_request("login", at, LIMITS)
            box.issue(purpose="login", code_digest=f"d{i}", at=at, expires_at=at + 300)
        with pytest.raises(Exception) as err:
            box.check_can_request("register", T0 + 2000, LIMITS)  # every purpose counts
        assert err.value.code == e.SMS_QUOTA_EXCEEDED
        assert err.value.details["retry_after"] == 86400 - 2000
        box.check_can_request("register", T0 + 86400 + 1, LIMITS)  # the first one left the window

    def test_code_matches_once_within_five_minutes(self):
        box = box_with_code(digest="right")
        assert box.match("login", "wrong", T0) == CODE_WRONG
        assert box.match("register", "right", T0) == CODE_WRONG  # bound to its purpose
        assert box.match("login", "right", T0 + 299) == CODE_VALID
        assert box.match("login", "right", T0 + 300) == CODE_EXPIRED
        box.consume(purpose="login", at=T0 + 1)
        assert box.match("login", "right", T0 + 2) == CODE_USED

    def test_a_new_code_voids_the_previous_one(self):
        box = box_with_code(digest="first")
        box.issue(purpose="login", code_digest="second", at=T0 + 60, expires_at=T0 + 360)
        assert box.match("login", "first", T0 + 61) == CODE_WRONG
        assert box.match("login", "second", T0 + 61) == CODE_VALID

    def test_five_wrong_tries_kill_the_code_and_block_for_15_minutes(self):
        box = box_with_code(digest="right")
        for _ in range(4):
            box.reject("login", T0 + 10, LIMITS)
        assert not box.is_blocked("login", T0 + 10)
        assert box.match("login", "right", T0 + 10) == CODE_VALID
        box.reject("login", T0 + 10, LIMITS)
        with pytest.raises(Exception) as err:
            box.check_not_blocked("login", T0 + 11)
        assert err.value.code == e.SMS_CODE_ATTEMPTS_EXCEEDED and err.value.details == {"retry_after": 899}
        assert box.match("login", "right", T0 + 11) == CODE_BURNT  # the code is dead: answered as a wrong one
        with pytest.raises(Exception) as err:
            box.check_can_request("login", T0 + 100, LIMITS)  # no new code while blocked either
        assert err.value.code == e.SMS_CODE_ATTEMPTS_EXCEEDED
        box.check_not_blocked("register", T0 + 11)  # other purposes are not blocked
        assert box.failures_of("login", T0 + 10 + 900) == 0  # a fresh count afterwards
        box.check_can_request("login", T0 + 10 + 900, LIMITS)

    def test_a_new_code_does_not_reset_the_failures(self):
        box = box_with_code(digest="first")
        for _ in range(3):
            box.reject("login", T0 + 1, LIMITS)
        box.issue(purpose="login", code_digest="second", at=T0 + 60, expires_at=T0 + 360)
        assert box.failures_of("login", T0 + 61) == 3
        box.reject("login", T0 + 61, LIMITS)
        box.reject("login", T0 + 62, LIMITS)
        assert box.is_blocked("login", T0 + 63)

    def test_success_resets_the_failures(self):
        box = box_with_code(digest="right")
        box.reject("login", T0 + 1, LIMITS)
        box.consume(purpose="login", at=T0 + 2)
        assert box.failures_of("login", T0 + 3) == 0


class TestUser:
    def new_user(self):
        return User(name="张三", id_type="resident_id", id_number="11010519900101002X", mobile="13306506117",
                    setup_token_digest="tok", setup_token_expires_at=T0 + 1800, registered_at=T0)

    def test_five_consecutive_failures_lock_for_15_minutes(self):
        user = self.new_user()
        for i in range(4):
            user.login_failed("password", T0 + i, LIMITS)
        assert not user.is_locked(T0 + 4)
        user.login_failed("password", T0 + 4, LIMITS)
        with pytest.raises(Exception) as err:
            user.check_not_locked(T0 + 5)
        assert err.value.code == e.ACCOUNT_LOCKED and err.value.details == {"retry_after": 899}
        assert not user.is_locked(T0 + 4 + 900)
        assert user.consecutive_failures(T0 + 4 + 900) == 0

    def test_a_login_resets_the_count(self):
        user = self.new_user()
        for _ in range(4):
            user.login_failed("password", T0, LIMITS)
        user.logged_in(method="sms", session_id="s", at=T0)
        user.login_failed("password", T0, LIMITS)
        assert user.failures == 1

    def test_reset_lifts_the_lock_but_a_change_does_not(self):
        user = self.new_user()
        for _ in range(5):
            user.login_failed("password", T0, LIMITS)
        user.set_password(password_hash="h", reason="change", at=T0)
        assert user.is_locked(T0 + 1)
        user.set_password(password_hash="h2", reason="reset", at=T0)
        assert not user.is_locked(T0 + 1)

    def test_setup_token_is_single_use_and_expires(self):
        user = self.new_user()
        with pytest.raises(Exception) as err:
            user.check_setup_token("other", T0)
        assert err.value.code == e.INVALID_CREDENTIALS
        with pytest.raises(ServiceError):
            user.check_setup_token("tok", T0 + 1800)
        user.check_setup_token("tok", T0 + 1799)
        user.set_password(password_hash="h", reason="setup", at=T0)
        with pytest.raises(Exception) as err:
            user.check_setup_token("tok", T0 + 1)
        assert "already been used" in err.value.message


class TestPasswordPolicy:
    def test_common_list_holds_1000_entries(self):
        assert len(common_passwords()) == 1000
        assert "password" in common_passwords() and "qwerty" in common_passwords()

    @pytest.mark.parametrize("password, reason", [
        ("short", "at least 8"),
        ("x" * 65, "at most 64"),
        ("Password1", "most common"),  # compared case-insensitively
        ("my13306506117pw", "mobile"),
        ("id11010519900101002xok", "ID number"),  # X or x
    ])
    def test_weak_passwords_say_why(self, password, reason):
        reasons = weaknesses(password, mobile="13306506117", id_number="11010519900101002X")
        assert any(reason in r for r in reasons), reasons

    def test_no_composition_rules(self):
        assert weaknesses("correct horse battery staple", mobile="13306506117", id_number="11010519900101002X") == []
        assert weaknesses("全中文的密码也可以用", mobile=None, id_number=None) == []
        assert weaknesses("x" * 64) == []


def test_digests_are_keyed_and_bound_to_their_kind():
    a, b = Digests("key-a"), Digests("key-b")
    assert a.mobile("13306506117") != b.mobile("13306506117")
    assert a.mobile("13306506117") != a.id_number("13306506117")
    assert a.sms_code("m", "login", "123456") != a.sms_code("m", "register", "123456")


def test_tokens_carry_a_jti_of_128_bits_at_least_and_refuse_a_foreign_signature():
    tokens = Tokens(load_private_keys(new_private_pem()), 1800)
    token, jti, expires_at = tokens.issue("user-1", T0)
    assert len(jti) * 6 >= 128 and expires_at == int(T0) + 1800
    claims = tokens.claims(token)
    assert claims["sub"] == "user-1" and claims["jti"] == jti
    assert Tokens(load_private_keys(new_private_pem()), 1800).claims(token) is None
    assert tokens.claims(token[:-2] + "xx") is None
    assert tokens.claims("not a token") is None


def test_tokens_are_for_the_api_alone():
    """A token identity's key signed for a business system (its client_id) or for no audience is not
    an API token: the API's check (the gateway's and identity's) refuses it."""
    tokens = Tokens(load_private_keys(new_private_pem()), 1800)
    api_token, _, _ = tokens.issue("user-1", T0)
    assert tokens.claims(api_token)["aud"] == API_AUDIENCE
    for audience in ("some-client", None, "", [API_AUDIENCE, "some-client"]):
        other, _, _ = tokens.issue("user-1", T0, audience=audience)
        assert tokens.claims(other) is None, audience
    assert tokens.claims(tokens.issue("user-1", T0, audience="some-client")[0], audience="some-client")


class TestSmsBoxVersions:
    """Stores written before codes counted their own tries and clients their own blocks read as meant."""

    def test_a_v1_snapshot_keeps_its_counts_as_those_of_callers_that_named_no_client(self):
        state = {"failures": {"login": 3}, "blocked_until": {"reset_password": T0 + 900}, "codes": {}}
        SmsBox.upcast_v1_v2(state)
        assert state == {"codes": {}, "tries": {"login": {"-": 3}},
                         "blocks": {"reset_password": {"-": T0 + 900}}, "issued_hours": {}}

    @pytest.mark.parametrize("event_class", [SmsBox.CodeRejected, SmsBox.CodeUsed, SmsBox.VerificationBlocked])
    def test_v1_events_name_no_client(self, event_class):
        state = {"purpose": "login", "at": T0}
        event_class.upcast_v1_v2(state)
        assert state["client"] is None and event_class.class_version == 2

    def test_a_client_blocks_itself_alone_and_a_code_has_five_tries_whoever_makes_them(self):
        box = box_with_code(digest="right")
        for _ in range(4):
            box.reject("login", T0 + 10, LIMITS, client="third")
        box.reject("login", T0 + 10, LIMITS, client="other")
        assert box.is_blocked("login", T0 + 11, "third") is False  # four tries of its own
        assert box.match("login", "right", T0 + 11) == CODE_BURNT  # the code's fifth
        box.reject("login", T0 + 11, LIMITS, client="third")
        assert box.is_blocked("login", T0 + 11, "third") and not box.is_blocked("login", T0 + 11, "owner")
        box.check_can_request("login", T0 + 60, LIMITS, client="owner")
        box.issue(purpose="login", code_digest="new", at=T0 + 60, expires_at=T0 + 360, client="owner")
        assert box.match("login", "new", T0 + 61) == CODE_VALID

"""The identity application on the in-memory event store, with a clock the tests move."""
import json

import pytest

from contracts import errors as e
from services.identity.domain import User
from services.identity.integration import to_integration
from tests.factories import new_id_number, new_mobile
from tests import identity_support as identity
from tests.identity_support import CHEAP, PASSWORD, code_of, event_count, registered
from tests.support import raised as error

pytestmark = pytest.mark.unit
clock, app = identity.clock, identity.app  # the fixtures: the application on the memory store, its clock

# Real argon2id, with small costs: the unit suite checks rules, not the hash's cost.


class TestRegistration:
    def test_register_set_password_login_by_mobile_and_id_number(self, app, clock):
        user_id, mobile, id_number = registered(app, clock)
        for account in (mobile, id_number, id_number.lower()):
            session = app.login_password(account, PASSWORD)
            assert session["user_id"] == user_id and session["token_type"] == "Bearer"
            assert session["expires_in"] == 1800
            assert app.authenticate(session["access_token"])["user_id"] == user_id

    def test_id_number_and_mobile_are_unique(self, app, clock):
        _, mobile, id_number = registered(app, clock)
        other_mobile = new_mobile()
        err = error(app.register, "李四", None, id_number, other_mobile, code_of(app, other_mobile, "register"))
        assert err.code == e.ID_NUMBER_TAKEN
        clock.advance(60)  # the register code of `mobile` was asked a moment ago
        err = error(app.register, "李四", None, new_id_number(), mobile, code_of(app, mobile, "register"))
        assert err.code == e.MOBILE_TAKEN

    def test_taken_is_only_told_to_the_holder_of_a_code(self, app, clock):
        _, mobile, _ = registered(app, clock)
        assert error(app.register, "李四", None, new_id_number(), mobile, "000000").code == e.SMS_CODE_INVALID

    def test_a_spent_code_answers_invalid_even_for_its_own_mobile(self, app, clock):
        mobile = new_mobile()
        code = code_of(app, mobile, "register")
        app.register("张三", None, new_id_number(), mobile, code)
        assert error(app.register, "李四", None, new_id_number(), mobile, code).code == e.SMS_CODE_INVALID

    def test_one_code_answers_taken_once_then_is_spent(self, app, clock):
        # Otherwise one code probes any number of ID numbers for its 5 minutes.
        _, _, taken_id = registered(app, clock)
        mobile = new_mobile()
        code = code_of(app, mobile, "register")
        assert error(app.register, "李四", None, taken_id, mobile, code).code == e.ID_NUMBER_TAKEN
        for id_number in (new_id_number(), taken_id):
            assert error(app.register, "李四", None, id_number, mobile, code).code == e.SMS_CODE_INVALID
        clock.advance(60)
        assert app.register("李四", None, new_id_number(), mobile, code_of(app, mobile, "register"))["user_id"]

    def test_bad_input_names_every_field_and_stores_nothing(self, app):
        before = event_count(app)
        err = error(app.register, "X", "passport", "110105199001010021", "1330650611a", "12a456")
        assert err.code == e.VALIDATION_ERROR
        assert set(err.details) == {"name", "id_type", "id_number", "mobile", "sms_code"}
        assert "check digit" in err.details["id_number"][0]
        assert error(app.request_sms_code, "1" * 10_000, "login").details.keys() == {"mobile"}
        assert error(app.request_sms_code, "13306506117", "spam").details.keys() == {"purpose"}
        assert error(app.login_password, 123, PASSWORD).details.keys() == {"account"}
        assert event_count(app) == before

    def test_chinese_name_with_middle_dot(self, app, clock):
        mobile = new_mobile()
        out = app.register("买买提·艾力", "resident_id", new_id_number(), mobile, code_of(app, mobile, "register"))
        assert app.get_user(out["user_id"])["name"] == "买买提·艾力"


class TestSmsCodes:
    def test_codes_are_six_digits_and_stored_only_as_keyed_digests(self, app, clock):
        mobile = new_mobile()
        code = code_of(app, mobile, "register")
        assert len(code) == 6 and code.isdigit()
        stored = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=1, limit=100)]
        assert code not in repr([vars(ev) for ev in stored])
        assert mobile not in repr([vars(ev) for ev in stored])  # the box holds the mobile's digest only

    def test_login_and_reset_codes_go_to_registered_mobiles_only_with_the_same_answer(self, app, clock):
        _, mobile, _ = registered(app, clock)
        stranger = new_mobile()
        for purpose in ("login", "reset_password"):
            assert code_of(app, mobile, purpose) is not None
            assert code_of(app, stranger, purpose) is None  # same answer, nothing sent
        # ... and the same limits: the unknown number is in its cooldown too
        assert error(app.request_sms_code, stranger, "login").code == e.SMS_COOLDOWN
        assert code_of(app, stranger, "register") is not None

    def test_cooldown_60s(self, app, clock):
        mobile = new_mobile()
        code_of(app, mobile, "register")
        clock.advance(45)
        err = error(app.request_sms_code, mobile, "register")
        assert err.code == e.SMS_COOLDOWN and err.details == {"retry_after": 15}
        clock.advance(15)
        assert code_of(app, mobile, "register")

    def test_daily_quota_of_10(self, app, clock):
        mobile = new_mobile()
        for _ in range(10):
            code_of(app, mobile, "register")
            clock.advance(60)
        err = error(app.request_sms_code, mobile, "register")
        assert err.code == e.SMS_QUOTA_EXCEEDED
        assert err.details["retry_after"] == 86400 - 600
        clock.advance(err.details["retry_after"])
        assert code_of(app, mobile, "register")

    def test_expires_after_5_minutes(self, app, clock):
        mobile = new_mobile()
        code = code_of(app, mobile, "register")
        clock.advance(300)
        err = error(app.register, "张三", None, new_id_number(), mobile, code)
        assert err.code == e.SMS_CODE_INVALID and "expired" in err.message

    def test_single_use(self, app, clock):
        _, mobile, _ = registered(app, clock)
        code = code_of(app, mobile, "login")
        app.login_sms(mobile, code)
        assert error(app.login_sms, mobile, code).code == e.INVALID_CREDENTIALS

    def test_bound_to_its_purpose(self, app, clock):
        _, mobile, _ = registered(app, clock)
        code = code_of(app, mobile, "reset_password")
        assert error(app.login_sms, mobile, code).code == e.INVALID_CREDENTIALS
        app.reset_password(mobile, code, "another fine passphrase")

    def test_five_wrong_tries_block_even_the_right_code_and_a_new_one(self, app, clock):
        _, mobile, _ = registered(app, clock)
        code = code_of(app, mobile, "reset_password")
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        for _ in range(4):
            assert error(app.reset_password, mobile, wrong, "another fine passphrase").code == e.SMS_CODE_INVALID
        err = error(app.reset_password, mobile, wrong, "another fine passphrase")
        assert err.code == e.SMS_CODE_ATTEMPTS_EXCEEDED and err.details == {"retry_after": 900}
        err = error(app.reset_password, mobile, code, "another fine passphrase")
        assert err.code == e.SMS_CODE_ATTEMPTS_EXCEEDED
        clock.advance(120)
        assert error(app.request_sms_code, mobile, "reset_password").code == e.SMS_CODE_ATTEMPTS_EXCEEDED
        clock.advance(780)
        app.reset_password(mobile, code_of(app, mobile, "reset_password"), "another fine passphrase")

    def test_a_new_code_does_not_reset_the_failure_count(self, app, clock):
        _, mobile, _ = registered(app, clock)
        code_of(app, mobile, "login")
        for _ in range(3):
            error(app.login_sms, mobile, "000000")
        clock.advance(60)
        code = code_of(app, mobile, "login")
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        assert error(app.login_sms, mobile, wrong).code == e.INVALID_CREDENTIALS
        assert error(app.login_sms, mobile, wrong).code == e.SMS_CODE_ATTEMPTS_EXCEEDED
        assert error(app.login_sms, mobile, code).code == e.SMS_CODE_ATTEMPTS_EXCEEDED

    def test_unknown_mobile_counts_wrong_tries_like_a_known_one(self, app, clock):
        known = registered(app, clock)[1]
        unknown = new_mobile()
        answers = {}
        for mobile in (known, unknown):
            app.request_sms_code(mobile, "login")
            answers[mobile] = [error(app.login_sms, mobile, "000001").code for _ in range(6)]
        assert answers[known] == answers[unknown] == [e.INVALID_CREDENTIALS] * 4 + [e.SMS_CODE_ATTEMPTS_EXCEEDED] * 2


class TestPasswords:
    def test_weak_password_says_why_and_keeps_the_setup_token(self, app, clock):
        mobile, id_number = new_mobile(), new_id_number()
        out = app.register("张三", None, id_number, mobile, code_of(app, mobile, "register"))
        for weak, why in (("1234567", "at least 8"), ("password123", "most common"),
                          (f"pw{mobile}", "mobile"), (f"pw{id_number}", "ID number")):
            err = error(app.set_password, out["user_id"], weak, password_setup_token=out["password_setup_token"])
            assert err.code == e.WEAK_PASSWORD and any(why in r for r in err.details["password"]), err.details
        app.set_password(out["user_id"], PASSWORD, password_setup_token=out["password_setup_token"])

    def test_setup_token_single_use_and_valid_30_minutes(self, app, clock):
        mobile = new_mobile()
        out = app.register("张三", None, new_id_number(), mobile, code_of(app, mobile, "register"))
        assert error(app.set_password, out["user_id"], PASSWORD, password_setup_token="forged").code == \
            e.INVALID_CREDENTIALS
        clock.advance(1800)
        assert error(app.set_password, out["user_id"], PASSWORD,
                     password_setup_token=out["password_setup_token"]).code == e.INVALID_CREDENTIALS
        mobile = new_mobile()
        out = app.register("张三", None, new_id_number(), mobile, code_of(app, mobile, "register"))
        app.set_password(out["user_id"], PASSWORD, password_setup_token=out["password_setup_token"])
        assert error(app.set_password, out["user_id"], "yet another passphrase",
                     password_setup_token=out["password_setup_token"]).code == e.INVALID_CREDENTIALS

    def test_change_needs_the_current_password_and_the_same_user(self, app, clock):
        user_id, mobile, _ = registered(app, clock)
        other_id, _, _ = registered(app, clock)
        assert error(app.set_password, user_id, "new passphrase here", current_password="wrong one",
                     actor_user_id=user_id).code == e.INVALID_CREDENTIALS
        assert error(app.set_password, user_id, "new passphrase here", current_password=PASSWORD,
                     actor_user_id=other_id).code == e.FORBIDDEN
        assert error(app.set_password, user_id, "new passphrase here",
                     current_password=PASSWORD).code == e.UNAUTHENTICATED
        app.set_password(user_id, "new passphrase here", current_password=PASSWORD, actor_user_id=user_id)
        assert error(app.login_password, mobile, PASSWORD).code == e.INVALID_CREDENTIALS
        app.login_password(mobile, "new passphrase here")

    def test_wrong_current_passwords_count_toward_the_lockout(self, app, clock):
        user_id, mobile, _ = registered(app, clock)
        error(app.login_password, mobile, "wrong password")
        codes = [error(app.set_password, user_id, "new passphrase here", current_password=f"guess {n}",
                       actor_user_id=user_id).code for n in range(4)]
        assert codes == [e.INVALID_CREDENTIALS] * 3 + [e.ACCOUNT_LOCKED]
        # locked: neither the right current password nor a login gets through
        err = error(app.set_password, user_id, "new passphrase here", current_password=PASSWORD,
                    actor_user_id=user_id)
        assert err.code == e.ACCOUNT_LOCKED and err.details["retry_after"] == 900
        assert error(app.login_password, mobile, PASSWORD).code == e.ACCOUNT_LOCKED
        clock.advance(900)
        app.set_password(user_id, "new passphrase here", current_password=PASSWORD, actor_user_id=user_id)
        assert app.login_password(mobile, "new passphrase here")["user_id"] == user_id

    def test_reset_by_sms_replaces_the_password(self, app, clock):
        user_id, mobile, _ = registered(app, clock)
        app.reset_password(mobile, code_of(app, mobile, "reset_password"), "brand new passphrase")
        assert error(app.login_password, mobile, PASSWORD).code == e.INVALID_CREDENTIALS
        assert app.login_password(mobile, "brand new passphrase")["user_id"] == user_id

    def test_reset_ends_every_earlier_session_but_not_later_ones(self, app, clock):
        user_id, mobile, _ = registered(app, clock)
        before = app.login_password(mobile, PASSWORD)["access_token"]
        clock.advance(5)
        app.reset_password(mobile, code_of(app, mobile, "reset_password"), "brand new passphrase")
        assert error(app.authenticate, before).code == e.UNAUTHENTICATED
        clock.advance(1)
        after = app.login_password(mobile, "brand new passphrase")["access_token"]
        assert app.authenticate(after)["user_id"] == user_id
        assert [x["user_id"] for x in app.sessions_ended_by_reset()] == [user_id]
        clock.advance(1801)  # past a token's lifetime the gateway need not know any more
        assert app.sessions_ended_by_reset() == []

    def test_a_password_change_ends_the_other_sessions_unless_told_not_to(self, app, clock):
        user_id, mobile, _ = registered(app, clock)
        other, mine = (app.login_password(mobile, PASSWORD)["access_token"] for _ in range(2))
        clock.advance(5)
        app.set_password(user_id, "new passphrase here", current_password=PASSWORD, actor_user_id=user_id,
                         session_id=app.authenticate(mine)["session_id"])
        assert error(app.authenticate, other).code == e.UNAUTHENTICATED  # by default: whoever else held it is out
        assert app.authenticate(mine)["user_id"] == user_id
        kept = app.login_password(mobile, "new passphrase here")["access_token"]
        app.set_password(user_id, "newer passphrase here", current_password="new passphrase here",
                         actor_user_id=user_id, end_other_sessions=False)
        assert app.authenticate(kept)["user_id"] == user_id
        assert app.sessions_ended_by_reset() == []

    def test_a_change_may_end_every_other_session_and_keeps_the_callers(self, app, clock):
        user_id, mobile, _ = registered(app, clock)
        old = app.login_password(mobile, PASSWORD)["access_token"]  # past a token's lifetime
        clock.advance(1801)
        phone, laptop, mine = (app.login_password(mobile, PASSWORD)["access_token"] for _ in range(3))
        app.revoke_session(laptop)  # logged out already: not revoked twice
        other_id, other_mobile, _ = registered(app, clock)
        theirs = app.login_password(other_mobile, PASSWORD)["access_token"]
        me = app.authenticate(mine)
        clock.advance(5)
        app.set_password(user_id, "new passphrase here", current_password=PASSWORD, actor_user_id=user_id,
                         end_other_sessions=True, session_id=me["session_id"])
        assert error(app.authenticate, phone).code == e.UNAUTHENTICATED
        assert app.authenticate(mine)["user_id"] == user_id
        assert app.authenticate(theirs)["user_id"] == other_id
        ended = {r["session_id"] for r in app.revoked_sessions()}
        assert app.tokens.claims(phone)["jti"] in ended and app.tokens.claims(old)["jti"] not in ended
        assert len(ended) == 2  # the laptop's logout and the phone

    def test_only_a_change_ends_other_sessions(self, app, clock):
        mobile = new_mobile()
        out = app.register("张三", None, new_id_number(), mobile, code_of(app, mobile, "register"))
        err = error(app.set_password, out["user_id"], PASSWORD, password_setup_token=out["password_setup_token"],
                    end_other_sessions=True)
        assert err.code == e.VALIDATION_ERROR and "end_other_sessions" in err.details
        err = error(app.set_password, out["user_id"], PASSWORD, password_setup_token=out["password_setup_token"],
                    end_other_sessions="yes")
        assert err.code == e.VALIDATION_ERROR and "end_other_sessions" in err.details
        app.set_password(out["user_id"], PASSWORD, password_setup_token=out["password_setup_token"])

    def test_reset_refuses_a_weak_password_and_the_code_stays_valid(self, app, clock):
        _, mobile, _ = registered(app, clock)
        code = code_of(app, mobile, "reset_password")
        err = error(app.reset_password, mobile, code, "qwertyuiop")
        assert err.code == e.WEAK_PASSWORD and err.details["new_password"] == err.details["password"]
        app.reset_password(mobile, code, "brand new passphrase")


class TestLogin:
    def test_unknown_account_and_wrong_password_answer_alike(self, app, clock):
        _, mobile, _ = registered(app, clock)
        a = error(app.login_password, mobile, "not the password")
        b = error(app.login_password, new_mobile(), "not the password")
        c = error(app.login_password, new_id_number(), "not the password")
        assert (a.code, a.message, a.details) == (b.code, b.message, b.details) == (c.code, c.message, c.details)

    def test_unknown_account_spends_a_verify(self, app, clock, monkeypatch):
        calls = []
        monkeypatch.setattr(CHEAP, "verify", lambda h, p: calls.append(p) or False)
        error(app.login_password, new_mobile(), "not the password")
        assert calls == ["not the password"]

    def test_lockout_after_5_failures_for_15_minutes_then_it_expires(self, app, clock):
        _, mobile, id_number = registered(app, clock)
        codes = [error(app.login_password, mobile, "wrong password").code for _ in range(5)]
        assert codes == [e.INVALID_CREDENTIALS] * 4 + [e.ACCOUNT_LOCKED]
        clock.advance(60)
        err = error(app.login_password, id_number, PASSWORD)  # right password, any account name
        assert err.code == e.ACCOUNT_LOCKED and err.details == {"retry_after": 840}
        clock.advance(840)
        assert app.login_password(mobile, PASSWORD)
        # a fresh count after the lock
        assert error(app.login_password, mobile, "wrong password").code == e.INVALID_CREDENTIALS

    def test_reset_clears_a_lock(self, app, clock):
        _, mobile, _ = registered(app, clock)
        for _ in range(5):
            error(app.login_password, mobile, "wrong password")
        app.reset_password(mobile, code_of(app, mobile, "reset_password"), "brand new passphrase")
        assert app.login_password(mobile, "brand new passphrase")

    def test_login_by_sms(self, app, clock):
        user_id, mobile, _ = registered(app, clock, password=None)  # no password needed
        session = app.login_sms(mobile, code_of(app, mobile, "login"))
        assert session["user_id"] == user_id
        assert app.authenticate(session["access_token"])["user_id"] == user_id

    def test_card_session(self, app, clock):
        user_id, mobile, _ = registered(app, clock)
        session = app.start_card_session(user_id, "CARD0001")
        assert app.authenticate(session["access_token"])["user_id"] == user_id
        assert error(app.start_card_session, "no-such-user", "CARD0001").code == e.USER_NOT_FOUND
        for _ in range(5):
            error(app.login_password, mobile, "wrong password")
        assert app.start_card_session(user_id, "CARD0001")["user_id"] == user_id  # a password lock stops passwords only


class TestSessions:
    def test_logout_revokes_the_token(self, app, clock):
        user_id, mobile, _ = registered(app, clock)
        token = app.login_password(mobile, PASSWORD)["access_token"]
        other = app.login_password(mobile, PASSWORD)["access_token"]
        assert app.authenticate(token)["user_id"] == user_id
        app.revoke_session(token)
        assert error(app.authenticate, token).code == e.UNAUTHENTICATED
        assert error(app.revoke_session, token).code == e.UNAUTHENTICATED
        assert app.authenticate(other)["user_id"] == user_id  # only that session ends

    def test_logins_store_one_event_each(self, app, clock):
        _, mobile, _ = registered(app, clock)
        before = event_count(app)
        app.login_password(mobile, PASSWORD)
        assert event_count(app) == before + 1

    def test_token_expires_after_30_minutes(self, app, clock):
        _, mobile, _ = registered(app, clock)
        token = app.login_password(mobile, PASSWORD)["access_token"]
        clock.advance(1799)
        app.authenticate(token)
        clock.advance(1)
        assert error(app.authenticate, token).code == e.UNAUTHENTICATED

    @pytest.mark.parametrize("token", ["", "garbage", "a.b.c", None, 42, "x" * 5000])
    def test_garbage_tokens(self, app, token):
        assert error(app.authenticate, token).code == e.UNAUTHENTICATED


class TestQueries:
    def test_get_user_and_get_users_are_masked(self, app, clock):
        user_id, mobile, id_number = registered(app, clock)
        user = app.get_user(user_id)
        assert user == {"user_id": user_id, "name": "张三", "id_type": "resident_id",
                        "id_number_masked": id_number[:6] + "********" + id_number[-4:],
                        "mobile_masked": mobile[:3] + "****" + mobile[-4:], "identity_verified": False}
        assert app.get_users([user_id, "nobody", user_id, 7]) == {user_id: user}
        assert error(app.get_user, "nobody").code == e.USER_NOT_FOUND
        token = app.login_password(mobile, PASSWORD)["access_token"]
        app.revoke_session(token)
        from services.identity.domain import RevokedSession
        revoked_id = str(RevokedSession.create_id(app.tokens.claims(token)["jti"]))
        assert error(app.get_user, revoked_id).code == e.USER_NOT_FOUND  # an id, but not a user's

    def test_holder_matches_on_normalised_values(self, app, clock):
        mobile, id_number = new_mobile(), new_id_number()
        out = app.register("买买提·艾力", None, id_number, mobile, code_of(app, mobile, "register"))
        user_id = out["user_id"]
        assert app.holder_matches(user_id, "买买提·艾力", id_number)
        assert app.holder_matches(user_id, " 买买提•艾力 ", id_number.lower())
        assert not app.holder_matches(user_id, "买买提", id_number)
        assert not app.holder_matches(user_id, "买买提·艾力", new_id_number())
        assert not app.holder_matches("nobody", "买买提·艾力", id_number)


def test_integration_events_carry_no_clear_pii_or_secrets(app, clock):
    user_id, mobile, id_number = registered(app, clock)
    for _ in range(5):
        error(app.login_password, mobile, "wrong password")
    app.reset_password(mobile, code_of(app, mobile, "reset_password"), "brand new passphrase")
    token = app.login_password(mobile, "brand new passphrase")["access_token"]
    app.revoke_session(token)
    envelopes = [env for n in app.recorder.select_notifications(start=1, limit=1000)
                 for env in to_integration(app.mapper.to_domain_event(n))]
    types = [env["event_type"] for env in envelopes]
    assert types == ["UserRegistered", "PasswordSet"] + ["LoginFailed"] * 4 + ["LoginFailed", "UserLocked",
                                                                               "PasswordSet", "UserLoggedIn",
                                                                               "SessionRevoked"]
    text = json.dumps(envelopes, ensure_ascii=False)
    assert mobile not in text and id_number not in text and token not in text and "argon2" not in text
    assert all(env["actor_user_id"] == user_id for env in envelopes)


def test_user_aggregate_is_snapshotted(app, clock):
    _, mobile, _ = registered(app, clock)
    for _ in range(25):
        app.login_password(mobile, PASSWORD)
    user_id = app.authenticate(app.login_password(mobile, PASSWORD)["access_token"])["user_id"]
    import uuid
    snapshots = list(app.snapshots.get(uuid.UUID(user_id)))
    assert snapshots and snapshots[-1].originator_version == 20
    assert isinstance(app.repository.get(uuid.UUID(user_id)), User)


def test_password_set_says_whether_earlier_sessions_end(app, clock):
    """The gateway learns the rule from the event: a reset ends every earlier session, a first
    password and a change do not (a change ends others by SessionRevoked events, when asked)."""
    _, mobile, _ = registered(app, clock)
    app.reset_password(mobile, code_of(app, mobile, "reset_password"), "brand new passphrase")
    payloads = [env["payload"] for n in app.recorder.select_notifications(start=1, limit=1000)
                for env in to_integration(app.mapper.to_domain_event(n)) if env["event_type"] == "PasswordSet"]
    assert [(p["reason"], p["ends_sessions"]) for p in payloads] == [("setup", False), ("reset", True)]

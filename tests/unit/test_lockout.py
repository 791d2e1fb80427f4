"""Lockout that cannot be used against the owner and tells nothing (API.md, "General rules, added";
issue 22 items 3 and 4), on the application with a real SQLite store and a clock the tests move."""
import pytest

from contracts import errors as e
from services.identity.application import IdentityApplication
from tests.factories import new_id_number, new_mobile
from tests.peers import FakeIdentityPeers
from tests.support import Clock
from tests.identity_support import CHEAP, PASSWORD, code_of, registered
from tests.support import raised as error

pytestmark = pytest.mark.unit

OWNER, THIRD_PARTY = "203.0.113.7", "198.51.100.23"


@pytest.fixture
def clock():
    return Clock(now=1_800_000_000.0)


@pytest.fixture
def app(monkeypatch, fresh_var, clock):
    monkeypatch.setenv("EVENT_STORE", "sqlite")
    return IdentityApplication(clock=clock, passwords=CHEAP)


def answers(app, account, password, times):
    refusals = [error(app.login_password, account, password) for _ in range(times)]
    return [(r.code, r.message, r.details) for r in refusals]


def stored(app):
    return app.recorder.max_notification_id() or 0


def test_an_unknown_account_locks_exactly_as_a_known_one(app, clock):
    _, mobile, id_number = registered(app, clock)
    for known, unknown in ((mobile, new_mobile()), (id_number, new_id_number())):
        assert answers(app, known, "wrong password", 5) == answers(app, unknown, "wrong password", 5)
        clock.advance(60)
        locked = answers(app, known, PASSWORD, 1)  # the right password: locked all the same
        assert locked == answers(app, unknown, "any password", 1)
        assert locked[0][:2] == (e.ACCOUNT_LOCKED, "Too many failed logins: the account is locked for a while.")
        assert locked[0][2] == {"retry_after": 840}
        clock.advance(840)
        assert app.login_password(known, PASSWORD)
        assert answers(app, unknown, "wrong password", 1)[0][0] == e.INVALID_CREDENTIALS  # a fresh count
        app.login_password(known, PASSWORD)  # the owner's next try, for the next account name


def test_a_lock_stops_password_logins_only(app, clock):
    user_id, mobile, id_number = registered(app, clock)
    for _ in range(5):
        error(app.login_password, id_number, "wrong password")
    assert error(app.login_password, mobile, PASSWORD).code == e.ACCOUNT_LOCKED
    assert app.login_sms(mobile, code_of(app, mobile, "login"))["user_id"] == user_id
    for _ in range(5):
        error(app.login_password, id_number, "wrong password")
    assert app.start_card_session(user_id, "CARD0001")["user_id"] == user_id
    for _ in range(5):
        error(app.login_password, id_number, "wrong password")
    app.reset_password(mobile, code_of(app, mobile, "reset_password"), "brand new passphrase")
    assert app.login_password(mobile, "brand new passphrase")["user_id"] == user_id


def test_wrong_sms_codes_by_others_never_lock_the_password(app, clock):
    user_id, mobile, _ = registered(app, clock)
    code_of(app, mobile, "login")
    for guess in range(5):  # the box blocks SMS verification; the password stays open
        error(app.login_sms, mobile, f"{guess:06d}")
    assert app.login_password(mobile, PASSWORD)["user_id"] == user_id


def test_a_failed_login_writes_alike_for_known_and_unknown_accounts(app, clock):
    _, mobile, _ = registered(app, clock)
    written = {}
    for name, account in (("known", mobile), ("unknown", new_mobile())):
        error(app.login_password, account, "wrong password")  # the first opens an unknown account's lock
        before = stored(app)
        for _ in range(4):  # three LoginFailed, then LoginFailed and Locked
            error(app.login_password, account, "wrong password")
        written[name] = stored(app) - before
    assert written["known"] == written["unknown"] == 5


# A known account's lockout events are User's, an unknown one's AccountLock's (services/identity/lockout.py,
# Lockout): two aggregates, each stored under its own class's topic, which every stored event must keep.
STORED_LOCKOUT_TOPICS = {f"services.identity.{module}:{aggregate}.{name}" for module, aggregate in
                         (("domain", "User"), ("lockout", "AccountLock")) for name in ("LoginFailed", "Locked")}


def test_both_lockouts_events_are_stored_under_their_topics_and_load_again(app, clock):
    _, mobile, _ = registered(app, clock)
    accounts = (mobile, new_mobile())
    for account in accounts:
        answers(app, account, "wrong password", 5)
    assert STORED_LOCKOUT_TOPICS <= {n.topic for n in app.recorder.select_notifications(start=1, limit=1000)}
    again = IdentityApplication(clock=clock, passwords=CHEAP)  # another process on the same SQLite store
    assert [error(again.login_password, a, PASSWORD).code for a in accounts] == [e.ACCOUNT_LOCKED] * 2


def test_sms_codes_for_registered_and_unregistered_mobiles_write_and_hand_off_alike(app, clock):
    _, mobile, _ = registered(app, clock)
    stranger = new_mobile()
    app.request_sms_code(stranger, "register", OWNER)  # opens its box (registration opened the other's)
    for purpose in ("login", "reset_password"):
        handed = {}
        for name, number in (("registered", mobile), ("unregistered", stranger)):
            before = stored(app)
            peers = FakeIdentityPeers()
            answer = app.request_sms_code(number, purpose, OWNER, peers=peers)
            [delivery] = peers.sms
            handed[name] = (answer, stored(app) - before, sorted(delivery), len(delivery["code"]))
            assert delivery["deliver"] is (name == "registered")  # notify sends only what a person may use
        assert handed["registered"] == handed["unregistered"]


def test_third_parties_never_use_up_the_owners_sms_quota(app, clock):
    _, mobile, _ = registered(app, clock)
    for _ in range(10):  # a third party asks for every code its quota allows, as fast as it may
        code_of(app, mobile, "reset_password", client=THIRD_PARTY)
        clock.advance(60)
    assert error(app.request_sms_code, mobile, "reset_password", THIRD_PARTY).code == e.SMS_QUOTA_EXCEEDED
    code = code_of(app, mobile, "reset_password", client=OWNER)  # the owner's own quota is whole
    app.reset_password(mobile, code, "brand new passphrase")
    code_of(app, mobile, "login", client="198.51.100.24")  # a moment before the owner: the cooldown is the asker's
    assert code_of(app, mobile, "login", client=OWNER) is not None
    assert error(app.request_sms_code, mobile, "login", OWNER).code == e.SMS_COOLDOWN


def test_a_client_is_kept_as_a_keyed_digest_never_its_address(app, clock):
    code_of(app, new_mobile(), "register", client=THIRD_PARTY)
    records = app.recorder.select_notifications(start=1, limit=1000)
    assert not any(THIRD_PARTY.encode() in r.state for r in records)
    assert error(app.request_sms_code, new_mobile(), "register", "x" * 129).details.keys() == {"client"}


def guesses_beside(code, count):
    """`count` wrong codes: none is `code`."""
    return [f"{(int(code) + k) % 10 ** 6:06d}" for k in range(1, count + 1)]


@pytest.mark.parametrize("purpose, wrong", [("reset_password", e.SMS_CODE_INVALID), ("login", e.INVALID_CREDENTIALS)])
def test_a_third_partys_wrong_codes_burn_one_code_and_block_the_third_party_alone(app, clock, purpose, wrong):
    user_id, mobile, _ = registered(app, clock)

    def use(code, client):
        if purpose == "login":
            return app.login_sms(mobile, code, client)
        return app.reset_password(mobile, code, "brand new passphrase", client)

    for third_party in (THIRD_PARTY, "198.51.100.24", "198.51.100.25"):  # as often as the attacker likes
        owners = code_of(app, mobile, purpose, client=OWNER)
        tries = [error(use, guess, third_party) for guess in guesses_beside(owners, 5)]
        assert [t.code for t in tries] == [wrong] * 4 + [e.SMS_CODE_ATTEMPTS_EXCEEDED]
        assert tries[4].details == {"retry_after": 900}
        burnt = error(use, owners, OWNER)  # the code's 5 tries are spent: its right code is told apart from nothing
        assert (burnt.code, burnt.message, burnt.details) == (tries[0].code, tries[0].message, tries[0].details)
        assert error(use, owners, third_party).code == e.SMS_CODE_ATTEMPTS_EXCEEDED  # the burner stays blocked
        assert error(app.request_sms_code, mobile, purpose, third_party).code == e.SMS_CODE_ATTEMPTS_EXCEEDED
        clock.advance(60)  # the owner's own cooldown, then a new code works at once
        answer = use(code_of(app, mobile, purpose, client=OWNER), OWNER)
        assert purpose != "login" or answer["user_id"] == user_id
        clock.advance(60)


def test_guessing_is_bounded_by_the_codes_a_mobile_is_sent_a_day(app, clock):
    from services.identity.domain import Limits
    app.limits = Limits(sms_codes_per_mobile_day=3)
    _, mobile, _ = registered(app, clock)  # its register code is the first of the day
    for n in range(2):
        code_of(app, mobile, "login", client=f"198.51.100.{n}")
    refusal = error(app.request_sms_code, mobile, "login", OWNER)
    assert refusal.code == e.SMS_QUOTA_EXCEEDED and 0 < refusal.details["retry_after"] <= 86400
    clock.advance(refusal.details["retry_after"])
    assert code_of(app, mobile, "login", client=OWNER) is not None

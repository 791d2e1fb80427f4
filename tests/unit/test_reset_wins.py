"""A password reset wins over every change or login that started before it (issue 20, item 1): a
credential decision and its effect rest on one state. An attacker who knows the old password starts
a change and a login; the owner's SMS reset commits between their check and their save (a password
hasher that pauses after checking runs it there), on a real SQLite store."""
import uuid

import pytest

from contracts import errors as e
from services.identity.application import IdentityApplication
from services.identity.domain import User
from tests.factories import new_id_number, new_mobile
from tests.peers import FakeIdentityPeers
from tests.support import Clock
from tests.identity_support import PausingPasswords
from tests.support import raised as error

pytestmark = pytest.mark.unit

OLD, ATTACKERS, OWNERS = "the old passphrase", "the attacker's passphrase", "the owner's new passphrase"


@pytest.fixture
def clock():
    return Clock(now=1_800_000_000.2)


@pytest.fixture
def passwords():
    return PausingPasswords()


@pytest.fixture
def app(monkeypatch, fresh_var, clock, passwords):
    monkeypatch.setenv("EVENT_STORE", "sqlite")
    return IdentityApplication(clock=clock, passwords=passwords)


def account(app):
    mobile = new_mobile()
    out = app.register("张三", None, new_id_number(), mobile, code(app, mobile, "register"))
    app.set_password(out["user_id"], OLD, password_setup_token=out["password_setup_token"])
    return out["user_id"], mobile


def code(app, mobile, purpose):
    peers = FakeIdentityPeers()
    app.request_sms_code(mobile, purpose, peers=peers)
    return peers.sms[0]["code"]


def owner_resets(app, mobile, clock):
    reset_code = code(app, mobile, "reset_password")

    def reset():
        clock.advance(0.1)
        app.reset_password(mobile, reset_code, OWNERS)
        clock.advance(0.1)
    return reset


def logins_after(app, user_id, since_version):
    return [ev for ev in app.repository.event_store.get(uuid.UUID(user_id), gt=since_version)
            if isinstance(ev, User.LoggedIn)]


def test_a_change_begun_before_a_reset_is_refused_and_the_reset_stands(app, clock, passwords):
    user_id, mobile = account(app)
    attackers_token = app.login_password(mobile, OLD)["access_token"]
    attacker = app.authenticate(attackers_token)
    passwords.during_next_verify = owner_resets(app, mobile, clock)  # between the check of OLD and the save
    refused = error(app.set_password, user_id, ATTACKERS, current_password=OLD, actor_user_id=user_id,
                    end_other_sessions=False, session_id=attacker["session_id"])
    assert refused.code == e.INVALID_CREDENTIALS
    assert app.login_password(mobile, OWNERS)["user_id"] == user_id  # the reset stands
    assert error(app.login_password, mobile, ATTACKERS).code == e.INVALID_CREDENTIALS
    assert error(app.authenticate, attackers_token).code == e.UNAUTHENTICATED  # the attacker's token died


def test_a_login_begun_before_a_reset_gets_no_session(app, clock, passwords):
    user_id, mobile = account(app)
    attackers_token = app.login_password(mobile, OLD)["access_token"]
    before = app.repository.get(uuid.UUID(user_id)).version
    passwords.during_next_verify = owner_resets(app, mobile, clock)
    assert error(app.login_password, mobile, OLD).code == e.INVALID_CREDENTIALS
    assert logins_after(app, user_id, before) == []  # no session was begun
    assert error(app.authenticate, attackers_token).code == e.UNAUTHENTICATED
    assert app.login_password(mobile, OWNERS)["user_id"] == user_id


def test_a_change_begun_before_another_change_is_checked_against_the_new_password(app, clock, passwords):
    user_id, mobile = account(app)
    passwords.during_next_verify = lambda: app.set_password(
        user_id, OWNERS, current_password=OLD, actor_user_id=user_id, end_other_sessions=False)
    refused = error(app.set_password, user_id, ATTACKERS, current_password=OLD, actor_user_id=user_id,
                    end_other_sessions=False)
    assert refused.code == e.INVALID_CREDENTIALS
    assert app.login_password(mobile, OWNERS)["user_id"] == user_id


def test_a_login_checked_again_after_a_change_that_kept_its_password_gets_in(app, clock, passwords):
    """Deciding again is not refusing: the same password, checked on the new state, still counts."""
    user_id, mobile = account(app)
    passwords.during_next_verify = owner_resets(app, mobile, clock)
    assert error(app.login_password, mobile, OLD).code == e.INVALID_CREDENTIALS
    passwords.during_next_verify = lambda: app.set_password(
        user_id, OLD, current_password=OWNERS, actor_user_id=user_id, end_other_sessions=False)
    session = app.login_password(mobile, OLD)
    assert app.authenticate(session["access_token"])["user_id"] == user_id


def test_a_token_of_the_second_of_a_reset_ends_with_it_and_one_after_it_lives(app, clock):
    user_id, mobile = account(app)
    same_second = app.login_password(mobile, OLD)["access_token"]  # at .2
    reset_code = code(app, mobile, "reset_password")
    clock.advance(0.5)
    app.reset_password(mobile, reset_code, OWNERS)  # at .7, the same whole second
    assert error(app.authenticate, same_second).code == e.UNAUTHENTICATED
    after = app.login_password(mobile, OWNERS)["access_token"]  # the clock reads the reset's own time
    assert app.authenticate(after)["user_id"] == user_id
    [ended] = [x["ended_at"] for x in app.sessions_ended_by_reset()]
    assert app.tokens.claims(after)["iat"] > ended > app.tokens.claims(same_second)["iat"]

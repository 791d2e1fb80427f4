"""The identity suites' parts: the application on the in-memory store with a clock the tests move
(fixtures `clock` and `app`: `clock, app = identity.clock, identity.app` with
`from tests import identity_support as identity`), cheap real argon2id, an SMS code as its holder
receives it (`code_of`), a registered account."""
import pytest
from argon2 import PasswordHasher

from services.identity.application import IdentityApplication
from services.identity.passwords import Passwords
from tests.factories import new_id_number, new_mobile
from tests.peers import FakeIdentityPeers
from tests.support import Clock

PASSWORD = "a long enough passphrase"

CHEAP = Passwords(hasher=PasswordHasher(memory_cost=64, time_cost=1, parallelism=1))


@pytest.fixture
def clock():
    return Clock(now=1_800_000_000.0)


@pytest.fixture
def app(monkeypatch, clock):
    monkeypatch.setenv("EVENT_STORE", "memory")
    return IdentityApplication(clock=clock, passwords=CHEAP)


def code_of(app, mobile, purpose, client=None, actor_user_id=None):
    """The code the mobile's holder receives, None when notify is told to send nothing."""
    peers = FakeIdentityPeers()
    answer = app.request_sms_code(mobile, purpose, client, actor_user_id, peers=peers)
    assert answer == {"expires_in": 300, "resend_after": 60}
    [delivery] = peers.sms  # every request is handed to notify alike
    return delivery["code"] if delivery["deliver"] else None


def registered(app, clock, password=PASSWORD):
    mobile, id_number = new_mobile(), new_id_number()
    out = app.register("张三", None, id_number, mobile, code_of(app, mobile, "register"))
    if password:
        app.set_password(out["user_id"], password, password_setup_token=out["password_setup_token"])
    return out["user_id"], mobile, id_number


def event_count(app):
    return app.recorder.max_notification_id() or 0


class PausingPasswords(Passwords):
    """Real argon2id (cheap); `during_next_verify` runs once, after a check and before its effect."""

    def __init__(self):
        super().__init__(hasher=PasswordHasher(memory_cost=64, time_cost=1, parallelism=1))
        self.during_next_verify = None

    def verify(self, password_hash, password):
        verified = super().verify(password_hash, password)
        hook, self.during_next_verify = self.during_next_verify, None
        if hook is not None:
            hook()
        return verified

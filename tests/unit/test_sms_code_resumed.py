"""An SMS code request that died between its save and the hand-off to notify is resumed by its retry,
which hands the same code again (services/identity/sms_codes.py; the rules in services/common/commands.py).
Driven as the @rpc wrapper drives it, on the in-memory store."""
import pytest

from contracts import errors as e
from contracts.errors import ServiceError
from services.common import commands, context
from services.identity.domain import SmsBox
from tests.factories import new_id_number, new_mobile
from tests.peers import FakeIdentityPeers
from tests.support import stored_before
from tests import identity_support as identity

pytestmark = pytest.mark.unit
clock, app = identity.clock, identity.app  # the fixtures: the application on the memory store, its clock



class Died(BaseException):
    """The process dying after the box's save, before the code went to notify."""


@pytest.fixture(autouse=True)
def short_wait(monkeypatch):
    monkeypatch.setattr(commands, "ANSWER_WAIT", 0.1)  # a retry waits this long for a twin still running


class DyingPeers(FakeIdentityPeers):
    """The process dies as the code is handed over: notify gets nothing."""

    def send_sms(self, mobile, purpose, code, text, deliver):
        raise Died()


def ask(app, command_id, mobile, purpose="register", die=False):
    """request_sms_code as identity's RPC runs it: (its answer, the codes handed to notify)."""
    peers = DyingPeers() if die else FakeIdentityPeers()

    def rpc():
        return app.request_sms_code(mobile, purpose, peers=peers)

    context.enter({context.COMMAND_ID: command_id}, **{context.APPLICATION: app})
    try:
        answer = commands.execute(app, command_id, "request_sms_code", (mobile, purpose), {}, rpc)
        return answer, [sms["code"] for sms in peers.sms if sms["deliver"]]
    finally:
        context.leave()


def test_the_retry_of_a_request_that_died_before_its_hand_off_hands_the_same_code(app, clock):
    mobile = new_mobile()
    with pytest.raises(Died):
        ask(app, "cmd-1", mobile, die=True)
    clock.advance(5)
    answer, handed = ask(app, "cmd-1", mobile)  # resumed: no cooldown, the code issued by the first run
    assert answer == {"expires_in": 300, "resend_after": 60} and len(handed) == 1
    again, handed_again = ask(app, "cmd-1", mobile)
    assert (again, handed_again) == (answer, [])  # answered: remembered, nothing handed over
    registered = app.register("张三", None, new_id_number(), mobile, handed[0])
    assert registered["user_id"]
    with pytest.raises(ServiceError) as cooldown:  # a new command still meets the cooldown: one code was issued
        ask(app, "cmd-2", mobile)
    assert cooldown.value.code == e.SMS_COOLDOWN


def first_code(app, command_id, mobile, purpose="register"):
    """The code a run that died before its hand-off issued (as only its retry could compute it)."""
    box = app.repository.get(SmsBox.create_id(app.digests.mobile(mobile)))
    return app.digests.sms_code_of(box.issued_seed(purpose), command_id)


def test_a_resumed_request_hands_nothing_once_its_code_is_used_expired_or_replaced(app, clock):
    used, expired, replaced = new_mobile(), new_mobile(), new_mobile()
    for mobile in (used, expired, replaced):
        with pytest.raises(Died):
            ask(app, f"cmd-{mobile}", mobile, die=True)
    app.register("张三", None, new_id_number(), used, first_code(app, f"cmd-{used}", used))
    assert ask(app, f"cmd-{used}", used)[1] == []
    clock.advance(61)
    assert len(ask(app, "newer", replaced)[1]) == 1  # another command's code replaces the first
    assert ask(app, f"cmd-{replaced}", replaced)[1] == []
    clock.advance(300)
    assert ask(app, f"cmd-{expired}", expired)[1] == []


def test_a_request_that_sends_nothing_is_resumed_alike(app):
    stranger = new_mobile()  # login to an unregistered mobile: recorded, nothing sent
    with pytest.raises(Died):
        ask(app, "cmd-s", stranger, purpose="login", die=True)
    assert ask(app, "cmd-s", stranger, purpose="login") == ({"expires_in": 300, "resend_after": 60}, [])


def test_the_code_is_bound_to_its_command_and_stored_only_as_its_digest_and_seed(app):
    mobile = new_mobile()
    _, [code] = ask(app, "cmd-b", mobile)
    box = app.repository.get(SmsBox.create_id(app.digests.mobile(mobile)))
    seed = box.issued_seed("register")
    assert app.digests.sms_code_of(seed, "cmd-b") == code
    assert code not in seed and app.digests.sms_code_of(seed, "another command") != code


def test_a_code_issued_before_seeds_reads_as_one_never_handed_again(app):
    """CodeIssued v1 (no seed) is upcast by the library (class_version 2, upcast_v1_v2)."""
    mobile = new_mobile()
    ask(app, "cmd-v1", mobile)
    [stored] = [n for n in app.recorder.select_notifications(start=1, limit=100) if n.topic.endswith(".CodeIssued")]
    old = app.mapper.to_domain_event(stored_before(app.mapper, stored, "seed"))
    assert old.seed is None
    box = SmsBox(mobile_digest="d")
    box.issue(purpose="register", code_digest="x", at=1.0, expires_at=301.0)
    assert box.issued_seed("register") is None

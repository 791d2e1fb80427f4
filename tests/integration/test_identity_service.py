"""The identity and notify services as Nameko containers on the real RabbitMQ and real SQLite."""
import json
import sqlite3
import time

import eventlet
import pytest
from kombu import Connection, Queue
from nameko.standalone.rpc import ClusterRpcProxy

from contracts import errors as e
from contracts.errors import ServiceError
from contracts.subscriptions import exchange
from services.common import context
from services.common.settings import var_dir
from services.identity.passwords import Passwords
from services.identity.service import IdentityService
from tests import sms
from tests.factories import new_id_number, new_mobile
from tests.integration.identity_steps import PASSWORD, app_of, fails, new_code, register
from tests.integration import identity_steps as steps

pytestmark = pytest.mark.integration
config, services, rpc = steps.config, steps.services, steps.rpc  # fixtures (module_amqp_uri: conftest.py)


@pytest.fixture
def identity_events(module_amqp_uri):
    """Every integration event identity publishes from now on, through a queue of this test."""
    conn = Connection(module_amqp_uri)
    channel = conn.channel()
    queue = Queue(exclusive=True, auto_delete=True, exchange=exchange("identity"), routing_key="#")(channel)
    queue.declare()
    seen = []

    def read(until, timeout=10):
        deadline = time.monotonic() + timeout
        while not until(seen) and time.monotonic() < deadline:
            message = queue.get(no_ack=True)
            if message is None:
                eventlet.sleep(0.05)
                continue
            seen.append(message.payload if isinstance(message.payload, dict) else json.loads(message.body))
        return seen

    yield read
    conn.release()


def test_the_code_travels_by_rpc_to_the_notify_outbox_and_nowhere_else(rpc, identity_events, services):
    mobile = new_mobile()
    answer = rpc.request_sms_code(mobile, "register")
    assert answer == {"expires_in": 300, "resend_after": 60}  # no code in the answer
    code = sms.latest_code(mobile, "register")
    [line] = sms.messages(mobile)
    assert line["text"] == f"【电子口岸】您的验证码为{code}，用于注册账户，5分钟内有效。请勿将验证码告知他人。"
    assert line["sent_at"].endswith("+00:00")
    id_number = new_id_number()
    user_id = rpc.register("张三", None, id_number, mobile, code)["user_id"]
    events = identity_events(lambda seen: any(ev["event_type"] == "UserRegistered" for ev in seen))
    registered = next(ev for ev in events if ev["event_type"] == "UserRegistered")
    assert registered["payload"] == {"user_id": user_id, "name": "张三", "id_type": "resident_id",
                                     "id_number_masked": id_number[:6] + "********" + id_number[-4:],
                                     "mobile_masked": mobile[:3] + "****" + mobile[-4:]}
    assert code not in json.dumps(events) and mobile not in json.dumps(events)
    # at rest: the event store holds neither the code nor the mobile in clear
    db = sqlite3.connect(f"file:{var_dir() / 'identity.db'}?mode=ro", uri=True)
    blob = b"".join(row[0] for row in db.execute("SELECT state FROM stored_events"))
    db.close()
    assert code.encode() not in blob and mobile.encode() not in blob and id_number.encode() not in blob


def test_login_and_reset_codes_only_reach_registered_mobiles(rpc):
    _, mobile, _ = register(rpc)
    stranger = new_mobile()
    assert rpc.request_sms_code(stranger, "login") == rpc.request_sms_code(mobile, "login")
    assert sms.latest_code(mobile, "login")
    eventlet.sleep(0.3)
    assert sms.messages(stranger) == []


def test_outbox_lines_stay_whole_under_concurrent_sends(config, services):
    mobiles = [new_mobile() for _ in range(40)]
    with ClusterRpcProxy(config) as proxy:
        replies = [proxy.notify.send_sms.call_async(m, "login", "123456", "【电子口岸】测试" * 20) for m in mobiles]
        assert [r.result() for r in replies] == [None] * 40
    lines = sms.messages()
    assert {m["mobile"] for m in lines} >= set(mobiles)


def test_an_sms_handed_over_again_under_its_command_id_is_sent_once(config, services):
    """identity hands a code over under its request's command id; its resumed retry hands it over
    again, maybe while the first is still queued: notify sends it once, twins at one moment included."""
    first, twins, other = new_mobile(), new_mobile(), new_mobile()

    def proxy(command_id):
        return ClusterRpcProxy(config, context_data={context.COMMAND_ID: command_id})

    with proxy("sms-once-1") as again:
        assert [again.notify.send_sms(first, "login", "123456", "【电子口岸】一") for _ in range(2)] == [None, None]
    with proxy("sms-once-2") as together:
        replies = [together.notify.send_sms.call_async(twins, "login", "654321", "【电子口岸】二") for _ in range(4)]
        assert [r.result() for r in replies] == [None] * 4
    with proxy("sms-once-3") as another, ClusterRpcProxy(config) as without:
        another.notify.send_sms(other, "login", "111111", "【电子口岸】三")
        without.notify.send_sms(other, "login", "111111", "【电子口岸】三")  # no command id: sent
    assert [len(sms.messages(m)) for m in (first, twins, other)] == [1, 1, 2]


def test_notify_refuses_malformed_sms(config, services):
    with ClusterRpcProxy(config) as proxy:
        err = fails(proxy.notify.send_sms, "12345", "spam", "12", "")
    assert err.code == e.VALIDATION_ERROR and set(err.details) == {"mobile", "purpose", "code", "text"}


def test_lockout_expires_with_the_clock(rpc, services, identity_events):
    _, clock = services
    user_id, mobile, _ = register(rpc)
    codes = [fails(rpc.login_password, mobile, "wrong password").code for _ in range(5)]
    assert codes == [e.INVALID_CREDENTIALS] * 4 + [e.ACCOUNT_LOCKED]
    err = fails(rpc.login_password, mobile, PASSWORD)
    assert err.code == e.ACCOUNT_LOCKED and 890 <= err.details["retry_after"] <= 900
    clock.advance(901)
    assert rpc.login_password(mobile, PASSWORD)["user_id"] == user_id
    events = identity_events(lambda seen: any(ev["event_type"] == "UserLoggedIn" for ev in seen))
    types = [ev["event_type"] for ev in events]
    assert types.count("LoginFailed") == 5 and types.count("UserLocked") == 1
    locked = next(ev for ev in events if ev["event_type"] == "UserLocked")
    assert locked["payload"]["failures"] == 5 and locked["payload"]["user_id"] == user_id


def test_sms_code_expires_after_five_minutes(rpc, services):
    _, clock = services
    _, mobile, _ = register(rpc)
    code = new_code(rpc, mobile, "login")
    clock.advance(300)
    assert fails(rpc.login_sms, mobile, code).code == e.INVALID_CREDENTIALS
    fresh = new_code(rpc, mobile, "login")
    clock.advance(299)
    assert rpc.login_sms(mobile, fresh)["token_type"] == "Bearer"


def test_sms_quota_of_ten_per_day(rpc, services):
    _, clock = services
    mobile = new_mobile()
    for _ in range(10):
        rpc.request_sms_code(mobile, "register")
        clock.advance(60)
    err = fails(rpc.request_sms_code, mobile, "login")
    assert err.code == e.SMS_QUOTA_EXCEEDED and err.details["retry_after"] > 85000
    clock.advance(err.details["retry_after"])
    rpc.request_sms_code(mobile, "register")


def test_revocation_holds_for_every_identity_instance(config, container_factory, services, rpc):
    second = container_factory(IdentityService, config)  # a second instance on the same store and queue
    second.start()
    user_id, mobile, _ = register(rpc)
    token = rpc.login_password(mobile, PASSWORD)["access_token"]
    assert rpc.authenticate(token)["user_id"] == user_id
    rpc.revoke_session(token)
    for _ in range(6):  # the calls are spread over both instances
        assert fails(rpc.authenticate, token).code == e.UNAUTHENTICATED


def test_remote_queries_for_other_services(rpc):
    user_id, mobile, id_number = register(rpc)
    user = rpc.get_user(user_id)
    assert user["mobile_masked"] == mobile[:3] + "****" + mobile[-4:]
    assert rpc.get_users([user_id, "nobody"]) == {user_id: user}
    assert fails(rpc.get_user, "nobody").code == e.USER_NOT_FOUND
    assert rpc.holder_matches(user_id, "张三", id_number) is True
    assert rpc.holder_matches(user_id, "李四", id_number) is False
    session = rpc.start_card_session(user_id, "CARD0001")
    assert rpc.authenticate(session["access_token"])["user_id"] == user_id


@pytest.mark.slow
def test_fifty_parallel_registrations_with_one_id_number(config, rpc):
    id_number = new_id_number()
    mobiles = [new_mobile() for _ in range(50)]
    codes = {m: new_code(rpc, m, "register") for m in mobiles}
    with ClusterRpcProxy(config) as proxy:
        replies = [proxy.identity.register.call_async("张三", None, id_number, m, codes[m]) for m in mobiles]
        outcomes = []
        for reply in replies:
            try:
                outcomes.append(("ok", reply.result()["user_id"]))
            except ServiceError as exc:
                outcomes.append((exc.code, None))
    assert sorted(code for code, _ in outcomes) == ["ID_NUMBER_TAKEN"] * 49 + ["ok"]


@pytest.mark.slow
def test_fifty_parallel_registrations_with_one_mobile(config, rpc):
    mobile = new_mobile()
    code = new_code(rpc, mobile, "register")
    with ClusterRpcProxy(config) as proxy:
        replies = [proxy.identity.register.call_async("张三", None, new_id_number(), mobile, code) for _ in range(50)]
        outcomes = []
        for reply in replies:
            try:
                reply.result()
                outcomes.append("ok")
            except ServiceError as exc:
                outcomes.append(exc.code)
    assert sorted(outcomes) == ["SMS_CODE_INVALID"] * 49 + ["ok"]  # one code, spent by the winner


def _while_hashing(config, mobile, hashes=10):
    """Runs `hashes` password logins (each one argon2 verify) and meanwhile pings the service.
    Returns the median and worst ping round trip, how many pings were answered during the batch,
    and the batch's duration (s)."""
    # Two clients: a standalone proxy's replies must be read by one green thread only.
    with ClusterRpcProxy(config) as hashing, ClusterRpcProxy(config) as pinging:
        pinging.identity.ping()
        started = time.monotonic()
        replies = [hashing.identity.login_password.call_async(mobile, f"wrong password {i}") for i in range(hashes)]
        latencies, done = [], []

        def wait_all():
            for reply in replies:
                try:
                    reply.result()
                except ServiceError:
                    pass
            done.append(time.monotonic() - started)

        waiter = eventlet.spawn(wait_all)
        while not done:
            t = time.monotonic()
            assert pinging.identity.ping() == "pong"
            latencies.append(time.monotonic() - t)
            eventlet.sleep(0.005)
        waiter.wait()
    latencies.sort()
    return latencies[len(latencies) // 2], latencies[-1], len(latencies), done[0]


def test_hashing_does_not_freeze_the_hub(config, services, rpc):
    identity, _ = services
    app = app_of(identity)
    from services.identity.domain import Limits
    app.limits = Limits(login_max_failures=1000)  # the ten wrong passwords must all reach argon2
    _, mobile, _ = register(rpc)
    one_hash = min(_timed(app.passwords.hasher.hash, "x") for _ in range(3))
    median, worst, pings, took = _while_hashing(config, mobile)
    print(f"\none argon2id hash alone: {one_hash * 1000:.0f} ms")
    print(f"argon2 in tpool: 10 hashes in {took:.2f}s; {pings} pings, median {median * 1000:.1f} ms, "
          f"worst {worst * 1000:.1f} ms")
    assert took > 2 * one_hash  # the batch kept both cores busy for a while
    assert pings >= 5  # requests were answered while the hashes ran ...
    assert median < one_hash  # ... without waiting for one
    # The control: the same hashes on the hub's own thread. Pings wait until the batch is over.
    app.passwords = Passwords(offload=lambda fn, *args: fn(*args))
    b_median, b_worst, b_pings, b_took = _while_hashing(config, mobile)
    print(f"argon2 on the hub: 10 hashes in {b_took:.2f}s; {b_pings} pings, median {b_median * 1000:.1f} ms, "
          f"worst {b_worst * 1000:.1f} ms")
    # Only the count is compared: a blocked hub may answer a single ping, whose time says nothing.
    assert b_pings < pings


def _timed(fn, *args):
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t

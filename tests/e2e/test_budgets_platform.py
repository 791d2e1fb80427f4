"""Budgets on the launched platform: a gateway with tight budgets beside the session's, on the
embedded store and on Redis. Over budget nothing reaches identity (no SMS is sent), and the
refusal reads the same for an account that exists and one that does not."""
import time
import uuid
from contextlib import contextmanager

import pytest
import redis

from deploy.launch import Platform
from tests.e2e.enterprise_people import register
from tests.factories import new_mobile
from tests.sms import messages
from tests.support import FromAddress, free_port, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REDIS_URL = "redis://127.0.0.1:6379/13"  # the tests' own Redis db
TIGHT = {"BUDGET_SMS_PER_CLIENT": "2/hour", "BUDGET_LOGIN_PER_ACCOUNT": "3/hour"}


def _up(port):
    try:
        return FromAddress(port, "127.0.0.1", timeout=2).call("GET", "/healthz")[0] == 200
    except OSError:
        return False


@contextmanager
def gateway_beside(platform, env):
    """Another gateway instance beside the platform's, with `env` on top of the platform's: its port."""
    port = free_port()
    gateway = Platform(env=dict(platform.env, GATEWAY_PORT=str(port), **env), only=["gateway"], quiet=True,
                       broker_uris=platform.broker_uris)
    gateway.env["EPORT_SERVICES"] = platform.env["EPORT_SERVICES"]
    try:
        gateway.start_one("gateway")
        wait_for(lambda: _up(port), timeout=30, what="the second gateway")
        yield port
    finally:
        gateway.stop()


@pytest.fixture(scope="module", params=["memory", "redis"])
def tight(platform, request):
    prefix = f"eport-test-{uuid.uuid4().hex}"
    env = dict(TIGHT, RATE_LIMIT_PREFIX=prefix, RATE_LIMIT_URL="memory://" if request.param == "memory" else REDIS_URL)
    with gateway_beside(platform, env) as port:
        yield port
    if request.param == "redis":
        r = redis.Redis.from_url(REDIS_URL)
        keys = list(r.scan_iter(f"{prefix}*"))
        assert keys  # the gateway counted there
        r.delete(*keys)


def sms(port, address, mobile):
    return FromAddress(port, address).call("POST", "/api/v1/sms-codes", {"mobile": mobile, "purpose": "register"})


def test_over_budget_no_sms_is_sent(tight):
    sent = [new_mobile() for _ in range(2)]
    assert [sms(tight, "127.0.4.1", m)[0] for m in sent] == [202, 202]
    wait_for(lambda: all(messages(m) for m in sent), what="the two SMS in the outbox")
    refused = new_mobile()
    status, body, headers = sms(tight, "127.0.4.1", refused)
    assert status == 429 and body["error"]["code"] == "RATE_LIMITED"
    assert headers["Retry-After"] == str(body["error"]["details"]["retry_after"])
    assert sms(tight, "127.0.4.2", new_mobile())[0] == 202  # another client is not refused
    time.sleep(1)  # what a sent SMS would take to reach the outbox (the two above: well under that)
    assert messages(refused) == []


def test_a_refusal_says_nothing_of_whether_the_account_exists(api, tight):
    known = register(api).mobile
    answers = {}
    for name, account in (("known", known), ("unknown", new_mobile())):
        body = {"method": "password", "account": account, "password": "Wrong#Password-1"}
        tries = [FromAddress(tight, "127.0.5.1").call("POST", "/api/v1/sessions", body) for _ in range(4)]
        assert [t[0] for t in tries] == [401, 401, 401, 429], [t[1] for t in tries]
        answers[name] = tries
    for n in range(4):
        known_body, unknown_body = answers["known"][n][1], answers["unknown"][n][1]
        known_body["error"]["details"].pop("retry_after", None)
        unknown_body["error"]["details"].pop("retry_after", None)
        assert known_body == unknown_body

"""A login flood on the launched platform (issue 22, item 2): identity hashes in one thread with two
waiting, the gateway lets 8 hash-bound requests in at once. Beyond either the answer is 503
SERVICE_UNAVAILABLE with Retry-After at once, never a wait for the RPC deadline and never a 500,
and /me and permission checks keep answering meanwhile."""
import time
import uuid

import eventlet
import pytest

from tests.e2e.enterprise_people import register
from tests.factories import new_mobile
from tests.fault.conftest import launched
from tests.support import FromAddress

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SERVICES = ["identity", "notify", "enterprise", "authz", "gateway"]
FLOOD = {"IDENTITY_HASH_THREADS": "1", "IDENTITY_HASH_QUEUE": "2", "GATEWAY_HASH_ROUTES": "8"}
IDENTITY_BUSY = "Too many password checks at once"  # services/identity/passwords.py HashesBusy
GATEWAY_BUSY = "Too many logins at once"  # gateway/budgets.py hash_slot


@pytest.fixture(scope="module")
def flood_platform():
    with launched(only=SERVICES, env=FLOOD) as platform:
        yield platform


def flood(port, workers, rounds, stop):
    """`workers` clients of their own, each logging in to unknown accounts up to `rounds` times, until
    `stop` is set: the answers. (A flood of fixed length ended before the checks beside it on a quiet machine.)"""
    answers = []

    def one(n):
        client = FromAddress(port, f"127.0.6.{n + 1}", timeout=30)
        for _ in range(rounds):
            if stop.ready():
                return
            started = time.monotonic()
            status, body, headers = client.call("POST", "/api/v1/sessions", {
                "method": "password", "account": new_mobile(), "password": "Flood#Password-1"})
            answers.append((status, body, headers, time.monotonic() - started))

    pool = eventlet.GreenPool(workers)
    for n in range(workers):
        pool.spawn(one, n)
    return pool, answers


def test_a_login_flood_is_refused_at_once_and_the_rest_keeps_answering(flood_platform):
    api = flood_platform.api
    person = register(api)
    port = int(api.base.rsplit(":", 1)[1])
    me, check = FromAddress(port, "127.0.7.1"), FromAddress(port, "127.0.7.2")
    check_path = (f"/api/v1/authz/check?user_id={person.user_id}&enterprise_id={uuid.uuid4()}"
                  f"&system=manifest")
    stop = eventlet.Event()
    pool, answers = flood(port, workers=24, rounds=100, stop=stop)
    eventlet.sleep(0.3)  # the flood is on
    others = []
    while len(others) < 40 and pool.running():
        for client, path in ((me, "/api/v1/me"), (check, check_path)):
            started = time.monotonic()
            status = client.call("GET", path, token=person.token)[0]
            others.append((path, status, time.monotonic() - started))
        eventlet.sleep(0.05)
    stop.send()
    pool.waitall()

    statuses = [a[0] for a in answers]
    assert set(statuses) <= {401, 503}, statuses  # never a 500, nor a 429 (budgets are generous here)
    refusals = [a for a in answers if a[0] == 503]
    messages = {a[1]["error"]["message"].split(";")[0] for a in refusals}
    assert {IDENTITY_BUSY, GATEWAY_BUSY} <= messages, messages  # both bounds were reached
    for _, body, headers, took in refusals:
        assert body["error"]["code"] == "SERVICE_UNAVAILABLE" and headers["Retry-After"] == "1"
        assert took < 3, took  # at once, not after the RPC deadline (15 s)
    assert 401 in statuses  # hashes went on all along
    assert len(others) >= 10, others  # checked while the flood ran
    assert all(status == 200 for _, status, _ in others), others
    slowest = max(took for _, _, took in others)
    assert slowest < 2, others

"""What the test suites share: an injectable clock, a RabbitMQ vhost of a module's own, a free
port, a bounded wait, and the HTTP client of the in-process gateway tests."""
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from contextlib import contextmanager, suppress
from urllib.parse import urlparse

import requests

from tests.tokens import token_for


def own_event_type(source, name, payload, description="test event", version=1):
    """An event type of a test's own, left out of contracts' registry (the AsyncAPI document reads
    it) until `registered` puts it there."""
    from contracts.envelope import EventType

    return EventType(name, source, version, payload, description)


@contextmanager
def registered(*event_types, subscriptions=()):
    """A test's own event types and subscriptions in contracts' registries while it runs, gone after:
    `@on_event` finds its queue when the service starts, the relay declares it, consumers read the
    type. Use it in a fixture: `with registered(NOTED, subscriptions=[Subscription(...)]): yield`."""
    from contracts.envelope import REGISTRY
    from contracts.subscriptions import SUBSCRIPTIONS

    for et in event_types:
        REGISTRY[(et.source, et.name)] = et
    SUBSCRIPTIONS.extend(subscriptions)
    try:
        yield
    finally:
        for et in event_types:
            REGISTRY.pop((et.source, et.name), None)
        for sub in subscriptions:
            SUBSCRIPTIONS.remove(sub)


def raised(call, *args, **kwargs):
    """The ServiceError (or DomainError, which is one) `call(*args, **kwargs)` raises, for a test that
    reads its message or details; fails the test when it raises nothing."""
    from contracts.errors import ServiceError

    try:
        call(*args, **kwargs)
    except ServiceError as error:
        return error
    raise AssertionError(f"{getattr(call, '__name__', call)} raised no ServiceError")


def raises_code(call, *args, **kwargs):
    """The error code `call(*args, **kwargs)` raises: `assert raises_code(app.approve, ...) == e.FORBIDDEN`."""
    return raised(call, *args, **kwargs).code


def http_error(response, status=None, code=None):
    """The error an HTTP answer carries, {code, message, details} (the gateway's error body; the card
    agent's too), after checking its status and its code when they are given (the answer's text shows
    when they differ): `http_error(r)["code"]`, `http_error(r, 400, e.VALIDATION_ERROR)["details"]`."""
    if status is not None:
        assert response.status_code == status, response.text
    error = response.json()["error"]
    if code is not None:
        assert error["code"] == code, response.text
    return error


def refusal(response):
    """(status, error code) of an HTTP answer: `assert refusal(r) == (409, e.CONFLICT)`."""
    return response.status_code, http_error(response)["code"]


def generous_budgets():
    """Every budget (gateway/budgets.py) far above what a test run asks from its one address, and as
    many requests at once as it likes (gateway/client_turns.py): the suites register and log in
    hundreds of people from 127.0.0.1, some at once. Tests of the budgets set their own."""
    from services.common.settings import SETTINGS
    return {**{name: "100000/minute" for name in SETTINGS if name.startswith("BUDGET_")},
            "GATEWAY_CLIENT_CONCURRENCY": "1000"}


class Clock:
    """Epoch seconds for an application's `clock=`: fixed at `now`, or the wall clock (`now=None`);
    `advance(seconds)` or `clock.now += seconds` moves it."""

    def __init__(self, now=None):
        self.now = now
        self.offset = 0.0

    def __call__(self):
        return (time.time() if self.now is None else self.now) + self.offset

    def advance(self, seconds):
        self.offset += seconds


# -- RabbitMQ -------------------------------------------------------------------------------------
def base_amqp_uri():
    return os.environ.get("AMQP_URI", "amqp://guest:guest@localhost:5672/")


def rabbitmqctl(*args):
    exe = shutil.which("rabbitmqctl")
    if not exe:
        return False
    return subprocess.run([exe, *args], capture_output=True, timeout=60).returncode == 0


def create_vhost(prefix="eport-test", amqp_uri=None, exchanges=True):
    """A RabbitMQ vhost of its own (None when rabbitmqctl is not on this machine); with `exchanges`,
    `nameko-rpc` and the `<source>.events` exchanges declared, as `python -m deploy.broker setup`
    declares them before any service starts (services do not: services/common/exchange_binding.py)."""
    from deploy.broker import declare_exchanges
    vhost = f"{prefix}-{uuid.uuid4().hex[:8]}"
    user = urlparse(amqp_uri or base_amqp_uri()).username or "guest"
    if _add_vhost(vhost, user):
        if exchanges:
            declare_exchanges(vhost_uri(vhost, amqp_uri))
        return vhost
    if exchanges:  # the callers fall back to amqp_uri's own vhost: no one else would declare nameko-rpc there
        try:
            declare_exchanges(amqp_uri or base_amqp_uri())
        except Exception:  # no broker (a unit-only run): the tests that need one say so
            pass
    return None


def _add_vhost(vhost, user):
    """`vhost` with every permission for `user`: in one rabbitmqctl call (each costs half a second or
    more) through the broker's internal functions as RabbitMQ 3.10 names them; else in two."""
    if re.fullmatch(r"[\w.-]+", user) and rabbitmqctl(
            "eval", f'rabbit_vhost:add(<<"{vhost}">>, <<"eport-tests">>), '
                    f'ok = rabbit_auth_backend_internal:set_permissions(<<"{user}">>, <<"{vhost}">>, '
                    '<<".*">>, <<".*">>, <<".*">>, <<"eport-tests">>).'):
        return True
    return rabbitmqctl("add_vhost", vhost) and rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")


_deleting = []  # rabbitmqctl delete_vhost calls still running: vhosts_deleted() waits for them


def delete_vhost(vhost):
    """Deleted in the background: a rabbitmqctl call takes half a second or more, a suite makes some
    forty vhosts, and nothing waits for one to be gone (their names are new each time)."""
    exe = shutil.which("rabbitmqctl")
    if vhost and exe:
        _deleting.append(subprocess.Popen([exe, "delete_vhost", vhost], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))


def vhosts_deleted(timeout=60):
    """Waits for every deletion delete_vhost started (the session's end: none is left behind)."""
    while _deleting:
        proc = _deleting.pop()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()


def vhost_uri(vhost, amqp_uri=None):
    """`amqp_uri` (each of its addresses, a cluster's) on `vhost`."""
    from services.common.broker_addresses import each_address
    base = amqp_uri or base_amqp_uri()
    return each_address(base, lambda uri: urlparse(uri)._replace(path="/" + vhost).geturl()) if vhost else base


@contextmanager
def own_vhost(prefix, exchanges=True):
    """The AMQP URI of a vhost of the caller's own, deleted afterwards; the session's without
    rabbitmqctl. Why a module wants one: the session-scoped e2e platform may be consuming the
    session vhost's queues (rpc-identity, ...) while it runs, and would answer its calls."""
    amqp_uri = base_amqp_uri()
    vhost = create_vhost(prefix, amqp_uri, exchanges)
    try:
        yield vhost_uri(vhost, amqp_uri)
    finally:
        delete_vhost(vhost)


@contextmanager
def own_database(monkeypatch):
    """EVENT_STORE=postgres on a database of the caller's own (the services create it), dropped
    afterwards, whoever still holds a connection to it."""
    database = f"eport_test_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("EVENT_STORE", "postgres")
    monkeypatch.setenv("EVENT_STORE_URL", f"postgresql+psycopg2://postgres@localhost:5432/{database}")
    try:
        yield database
    finally:
        import psycopg2

        db = psycopg2.connect("postgresql://postgres@localhost:5432/postgres")
        try:
            db.autocommit = True
            with db.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        finally:
            db.close()


# -- waiting and ports ---------------------------------------------------------------------------
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=10, what="condition", interval=0.02):
    """`predicate()`'s first truthy value, polled every `interval` for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# -- HTTP ----------------------------------------------------------------------------------------
class FromAddress:
    """HTTP to a gateway on loopback from one source address (127.x.y.z): a client of its own for
    the gateway's budgets. `call` answers (status, decoded JSON or None, headers)."""

    def __init__(self, port, address="127.0.0.2", timeout=15):
        self.port, self.address, self.timeout = port, address, timeout

    def call(self, method, path, body=None, headers=None, token=None):
        import http.client
        import json
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout,
                                          source_address=(self.address, 0))
        headers = {"Content-Type": "application/json", **(headers or {})}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            response = conn.getresponse()
            raw = response.read()
            return response.status, (json.loads(raw) if raw else None), dict(response.getheaders())
        finally:
            conn.close()


class Http:
    """Requests to an in-process gateway, as `who` (a user id: a token signed like identity's)."""

    def __init__(self, base, timeout=15):
        self.base = base
        self.timeout = timeout
        self.s = requests.Session()

    def __call__(self, method, path, who=None, **kw):
        headers = {"Authorization": f"Bearer {token_for(who)}"} if who else {}
        return self.s.request(method, self.base + path, headers=headers, timeout=self.timeout, **kw)


# -- stored events as an older version of the code wrote them ------------------------------------
def stored_before(mapper, stored, *added_fields):
    """`stored` (a StoredEvent) as it was written before its event class gained `added_fields` and
    a class_version: what the library's upcasting reads old stores with."""
    from eventsourcing.persistence import StoredEvent

    def decode(data):
        data = mapper.cipher.decrypt(data) if mapper.cipher else data
        return mapper.transcoder.decode(mapper.compressor.decompress(data) if mapper.compressor else data)

    def encode(state):
        data = mapper.transcoder.encode(state)
        data = mapper.compressor.compress(data) if mapper.compressor else data
        return mapper.cipher.encrypt(data) if mapper.cipher else data

    state = decode(stored.state)
    assert state.pop("class_version", 1) > 1, "not a versioned event"
    for field in added_fields:
        state.pop(field)
    return StoredEvent(originator_id=stored.originator_id, originator_version=stored.originator_version,
                       topic=stored.topic, state=encode(state))


def signed(envelope):
    """An envelope signed by its source's development key, as its relay would publish it
    (services/common/event_keys.py): consumers believe nothing else."""
    from services.common.event_keys import signed as sign
    return sign(envelope)


def signing_publisher(amqp_uri, source):
    """services.common.relay.AmqpPublisher that signs what a test publishes, as the relay does."""
    from services.common.relay import AmqpPublisher

    class Signing(AmqpPublisher):
        def publish_many(self, envelopes):
            super().publish_many([signed(e) for e in envelopes])

    return Signing(amqp_uri, source)


def replay_into(amqp_uri, queue_name, envelopes):
    """Put envelopes on one queue through `eport.replay`, as `eport replay` and `eport dead-letters
    replay` do (what an operator's broker user may do with any consumer queue)."""
    from kombu import Connection

    from deploy.eport.broker import replay_producer
    with Connection(amqp_uri) as conn, conn.channel() as channel:
        producer = replay_producer(channel, queue_name, serializer="json")
        for env in envelopes:
            producer.publish(env, routing_key=queue_name, delivery_mode=2, message_id=env["event_id"])


def dead_letters_of(amqp_uri, queue_name):
    """The reasons of the messages parked in `queue_name`'s dead-letter queue (left there)."""
    import json

    from amqp.exceptions import NotFound
    from kombu import Connection, Queue

    from services.common.deadletters import REASON, dead_letter_queue_name
    reasons = []
    with Connection(amqp_uri) as conn, conn.channel() as channel, suppress(NotFound):  # none ever parked
        parked = Queue(dead_letter_queue_name(queue_name), channel=channel, no_declare=True)
        while (message := parked.get(no_ack=False)) is not None:
            reasons.append((json.loads(message.body).get("event_id"), message.headers.get(REASON)))
    return reasons  # unacknowledged: back in the queue when the channel closes


def drop_databases(prefix):
    """Drop every PostgreSQL database whose name starts with `prefix` (a suite's own stores)."""
    import psycopg2

    conn = psycopg2.connect("postgresql://postgres@localhost:5432/postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",))
            for (name,) in cur.fetchall():
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        conn.close()

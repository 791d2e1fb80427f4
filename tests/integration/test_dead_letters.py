"""Poison messages are parked, not retried forever: against the real broker, with `eport
dead-letters` run as a subprocess."""
import logging
import uuid

import eventlet
import pytest
from eventsourcing.domain import Aggregate, event
from kombu import Connection, Producer
from marshmallow import Schema, fields

from contracts.envelope import make_envelope
from contracts.subscriptions import Subscription, exchange, queue, subscription
from services.common import deadletters as dl
from services.common.application import ServiceApplication
from services.common.dependency import EventSourced
from services.common.messaging import on_event
from tests.eport_cli import eport, json_lines
from tests.support import own_event_type, registered, wait_for
from tests.support import signed
from nameko.testing.services import entrypoint_hook
from services.audit.service import AuditService

pytestmark = pytest.mark.integration

SOURCE = "poisondemo"
CONSUMER = "poisonsink"
MAX_FAILURES = 3
QUEUE = f"{CONSUMER}.{SOURCE}-events"


class TextPayload(Schema):
    text = fields.String(required=True)


WRITTEN = own_event_type(SOURCE, "Written", TextPayload)


@pytest.fixture(scope="module", autouse=True)
def _registered():  # this suite's own event types and subscription, in contracts' registries while it runs
    with registered(WRITTEN, subscriptions=[Subscription(CONSUMER, SOURCE, ("Written",))]):
        yield


class Effect(Aggregate):
    @event("Applied")
    def __init__(self, text):
        self.text = text


class SinkApp(ServiceApplication):
    service_name = CONSUMER
    applied = []  # class-level: shared with the test
    attempts = {}
    broken = {"poison"}  # texts whose handling raises until the "fix"

    def handle(self, envelope):
        text = envelope["payload"]["text"]
        self.attempts[text] = self.attempts.get(text, 0) + 1
        if text in self.broken:
            raise RuntimeError(f"cannot handle {text}")
        if self.save_processed(CONSUMER, envelope["event_id"], Effect(text)):
            self.applied.append(text)


class SinkService:
    name = CONSUMER
    app = EventSourced(SinkApp)

    @on_event(CONSUMER, SOURCE, retry_delay=0.01, max_failures=MAX_FAILURES)
    def on_written(self, envelope):
        self.app.handle(envelope)


class SlowRetrySinkService(SinkService):
    """The same consumer with pauses long enough to restart it between two failures."""

    @on_event(CONSUMER, SOURCE, retry_delay=1.0, max_failures=MAX_FAILURES)
    def on_written(self, envelope):
        self.app.handle(envelope)


def envelope_of(text):
    return make_envelope(WRITTEN, aggregate_id=uuid.uuid4(), aggregate_version=1,
                         occurred_at="2026-12-01T08:00:00+00:00", payload={"text": text})


def publish(amqp_uri, envelopes):
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        queue(subscription(CONSUMER, SOURCE))(channel).declare()
        producer = Producer(channel, exchange=exchange(SOURCE), serializer="json")
        for env in envelopes:
            producer.publish(signed(env), routing_key=env["event_type"], delivery_mode=2, message_id=env["event_id"])


def parked(amqp_uri):
    return json_lines(eport("dead-letters", "list", QUEUE, "--json", amqp_uri=amqp_uri))


def parked_count(amqp_uri):
    """How many wait in the dead-letter queue (asked directly: cheaper than a subprocess per poll)."""
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        try:
            return channel.queue_declare(dl.dead_letter_queue_name(QUEUE), passive=True).message_count
        except Exception:  # not declared yet
            return 0


@pytest.fixture
def nothing_parked(fresh_var, config):
    SinkApp.applied.clear()
    SinkApp.attempts.clear()
    SinkApp.broken = {"poison"}
    with Connection(config["AMQP_URI"]) as conn:  # each test starts with nothing parked
        for name in (QUEUE, dl.dead_letter_queue_name(QUEUE)):
            channel = conn.channel()
            try:
                channel.queue_purge(name)
            except Exception:  # not declared yet
                pass


@pytest.fixture
def sink(nothing_parked, container_factory, config):
    container = container_factory(SinkService, config)
    container.start()
    audit = container_factory(AuditService, config)  # `eport dead-letters replay|drop` records there first
    audit.start()
    container.audit = audit
    return container


def operations(audit):
    with entrypoint_hook(audit, "events") as events:
        return [i["payload"] for i in events(event_type="OperatorActed")["items"]]


def test_an_always_failing_event_is_parked_after_n_tries_while_the_others_flow(sink, amqp_uri, caplog):
    poison = envelope_of("poison")
    good = [envelope_of(f"good {i}") for i in range(5)]
    with caplog.at_level(logging.ERROR, logger="services.common.messaging"):
        publish(amqp_uri, [good[0], poison, *good[1:]])
        wait_for(lambda: len(SinkApp.applied) == 5 and SinkApp.attempts.get("poison") == MAX_FAILURES)
        wait_for(lambda: parked_count(amqp_uri) == 1)
    assert sorted(SinkApp.applied) == sorted(e["payload"]["text"] for e in good)
    eventlet.sleep(0.3)
    assert SinkApp.attempts["poison"] == MAX_FAILURES  # not retried once parked
    [item] = parked(amqp_uri)
    assert item["message_id"] == poison["event_id"] and item["event_type"] == "Written"
    assert item["failures"] == MAX_FAILURES and item["queue"] == QUEUE
    assert "RuntimeError: cannot handle poison" in item["reason"]
    assert "in handle" in item["traceback"] and "RuntimeError" in item["traceback"]
    said = [r for r in caplog.records  # its own queue's: other modules' consumers may park their leftovers
            if r.getMessage().startswith("parked message") and f" of {QUEUE} " in r.getMessage()]
    assert len(said) == 1 and poison["event_id"] in said[0].getMessage()


def test_after_the_fix_a_replay_from_the_dead_letters_applies_the_event_exactly_once(sink, amqp_uri):
    poison = envelope_of("poison")
    publish(amqp_uri, [poison])
    wait_for(lambda: parked_count(amqp_uri) == 1)
    SinkApp.broken = set()  # the fix
    done = eport("dead-letters", "replay", QUEUE, amqp_uri=amqp_uri)
    assert "replayed 1 message(s)" in done.stdout
    wait_for(lambda: SinkApp.applied == ["poison"])  # a genuine event returned from the dead letters
    [recorded] = operations(sink.audit)  # who (the broker user RabbitMQ checked), what, where
    assert recorded == {"operator": "guest", "action": "dead-letters-replay", "target": QUEUE,
                        "details": {"ids": [], "all": True}}
    assert parked_count(amqp_uri) == 0
    assert "replayed 0 message(s)" in eport("dead-letters", "replay", QUEUE, amqp_uri=amqp_uri).stdout
    publish(amqp_uri, [poison])  # the same event once more: its processed mark keeps it out
    wait_for(lambda: SinkApp.attempts["poison"] == MAX_FAILURES + 2)
    eventlet.sleep(0.2)
    assert SinkApp.applied == ["poison"]


def test_drop_needs_ids_or_all_and_removes_only_those(sink, amqp_uri):
    first, second = envelope_of("poison"), envelope_of("poison")
    publish(amqp_uri, [first, second])
    wait_for(lambda: parked_count(amqp_uri) == 2)
    refused = eport("dead-letters", "drop", QUEUE, check=False, amqp_uri=amqp_uri)
    assert refused.returncode == 2 and "--all" in refused.stderr and "Traceback" not in refused.stderr
    eport("dead-letters", "drop", QUEUE, "--id", first["event_id"], amqp_uri=amqp_uri)
    assert [i["message_id"] for i in parked(amqp_uri)] == [second["event_id"]]
    missing = eport("dead-letters", "replay", "nosuch.queue", check=False, amqp_uri=amqp_uri)
    assert missing.returncode == 2 and "no dead-letter queue" in missing.stderr and "Traceback" not in missing.stderr


def test_a_malformed_message_is_parked_at_once_and_the_consumer_goes_on(sink, amqp_uri):
    with Connection(amqp_uri) as conn:
        producer = Producer(conn.channel(), exchange=dl.DEFAULT_EXCHANGE)
        producer.publish(b"{not json", routing_key=QUEUE, content_type="application/json",
                         content_encoding="utf-8", message_id="m-1")
        producer.publish(b"plain words", routing_key=QUEUE, content_type="text/plain",
                         content_encoding="utf-8", message_id="m-2")
        producer.publish({"event_id": "x"}, routing_key=QUEUE, serializer="json", message_id="m-3")
    publish(amqp_uri, [envelope_of("after the bad ones")])
    wait_for(lambda: SinkApp.applied == ["after the bad ones"])
    wait_for(lambda: parked_count(amqp_uri) == 3)
    reasons = {i["message_id"]: i for i in parked(amqp_uri)}
    assert set(reasons) == {"m-1", "m-2", "m-3"}
    assert all(i["failures"] == 0 for i in reasons.values())
    assert "undecodable" in reasons["m-1"]["reason"] and "undecodable" in reasons["m-2"]["reason"]
    assert "not an envelope" in reasons["m-3"]["reason"]


def test_the_count_of_failures_survives_a_restart_of_the_consumer(nothing_parked, container_factory, config,
                                                                  amqp_uri):
    first = container_factory(SlowRetrySinkService, config)
    first.start()
    poison = envelope_of("poison")
    publish(amqp_uri, [poison])
    wait_for(lambda: SinkApp.attempts.get("poison") == 1)
    first.stop()  # in a pause after a failure: it may fail once more while stopping, and goes back unparked
    assert SinkApp.attempts["poison"] < MAX_FAILURES and parked_count(amqp_uri) == 0
    second = container_factory(SlowRetrySinkService, config)
    second.start()
    wait_for(lambda: parked_count(amqp_uri) == 1, timeout=20)
    assert SinkApp.attempts["poison"] == MAX_FAILURES  # counted on, not from 0 again
    [item] = parked(amqp_uri)
    assert item["message_id"] == poison["event_id"] and item["failures"] == MAX_FAILURES

"""The shared plumbing against the real RabbitMQ: relay with confirms, durable subscription queues,
idempotent consumers, requeue of a failing handler. The demo service and its sink are
tests/plumbing_demo.py's, their events and subscription registered while this module runs."""
import time
import uuid

import eventlet
import pytest
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_hook

from contracts.envelope import make_envelope
from contracts.subscriptions import queue, subscription
from services.common.dependency import EventSourced
from services.common.messaging import EventConsumer
from services.common.positions import PositionStore
from services.common.relay import AmqpPublisher, NotificationRelay
from services.common.rpc import rpc
from services.common.settings import var_dir
from tests.plumbing_demo import (  # the demo service, its sink and their events: read them first
    SOURCE, UNHEARD, DemoApp, DemoService, SinkApp, SinkService, published_before_consumer_starts,
    registered_demo, to_integration,
)
from tests.support import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def _registered():
    with registered_demo():
        yield


@pytest.fixture(autouse=True)
def _fresh(fresh_var):
    SinkApp.effects.clear()
    SinkApp.fail_next.clear()


def test_event_published_before_consumer_starts_is_delivered_once(container_factory, config):
    published_before_consumer_starts(container_factory, config, "before the consumer ever ran")


def test_relay_crash_between_store_and_confirm_delivers_exactly_once(container_factory, config, amqp_uri):
    sink = container_factory(SinkService, config)
    sink.start()
    app = DemoApp()
    positions = PositionStore(var_dir() / "relay-test.db")
    publisher = AmqpPublisher(amqp_uri, SOURCE)
    relay = NotificationRelay(app, to_integration, publisher, positions, name="demo")
    app.write("one")
    app.write("two")
    # Crash after publishing "one" and "two" but before the position was saved: set it back.
    assert relay.run_once() == 2
    positions.set("demo", 0)
    relay2 = NotificationRelay(app, to_integration, AmqpPublisher(amqp_uri, SOURCE), positions, name="demo")
    assert relay2.run_once() == 2  # republished
    app.write("three")
    assert relay2.run_once() == 1
    wait_for(lambda: len(SinkApp.effects) >= 3)
    eventlet.sleep(0.5)  # give a duplicate the chance to show up
    assert SinkApp.effects == ["one", "two", "three"]


class WakeOnlyDemoService(DemoService):
    """The relay's idle poll is a minute: only its wake-up on each recorded event moves it."""
    app = EventSourced(DemoApp, to_integration, relay_idle_seconds=60)


def test_relay_wakes_for_every_event_recorded_while_it_publishes(container_factory, config):
    # Events written from many green threads land while the relay is reading and publishing; one
    # whose wake-up was lost would wait a minute for the idle poll.
    sink = container_factory(SinkService, config)
    sink.start()
    demo = container_factory(WakeOnlyDemoService, config)
    demo.start()
    texts = [f"burst {i}" for i in range(40)]

    def writer(batch):
        with ClusterRpcProxy(config) as rpc_:  # one per green thread: a proxy is not shareable
            for i, text in enumerate(batch):
                rpc_[SOURCE].write(text)
                eventlet.sleep(0.002 * (i % 3))  # uneven spacing: some alone, some in bursts

    pool = eventlet.GreenPool(8)
    for k in range(8):
        pool.spawn(writer, texts[k::8])
    pool.waitall()
    wait_for(lambda: len(SinkApp.effects) >= len(texts), timeout=10)
    assert sorted(SinkApp.effects) == sorted(texts)


def test_failing_handler_is_retried_not_dropped(container_factory, config):
    SinkApp.fail_next.extend([True, True])
    demo = container_factory(DemoService, config)
    sink = container_factory(SinkService, config)
    demo.start()
    sink.start()
    with entrypoint_hook(demo, "write") as write:
        write("survives two failures")
    wait_for(lambda: SinkApp.effects == ["survives two failures"])
    assert SinkApp.fail_next == []
    consumer = next(e for e in sink.entrypoints if e.method_name == "on_demo")
    assert consumer._failures == {}  # forgotten once it succeeded


def test_the_pause_before_a_retry_doubles_up_to_a_cap():
    consumer = EventConsumer("plumbingsink", SOURCE, retry_delay=0.5, max_retry_delay=3)
    assert [consumer.retry_pause(n) for n in range(1, 6)] == [0.5, 1, 2, 3, 3]


def test_stopped_broker_publish_keeps_position(amqp_uri):
    app = DemoApp()
    positions = PositionStore(var_dir() / "relay-test2.db")
    relay = NotificationRelay(app, to_integration, AmqpPublisher("amqp://guest:guest@127.0.0.1:1/", SOURCE),
                              positions, name="demo")
    app.write("waits for the broker")
    with pytest.raises(Exception):  # noqa: B017 (whatever the AMQP client raises for a refused connection)
        relay.run_once()
    assert positions.get("demo") == 0
    relay.publisher = AmqpPublisher(amqp_uri, SOURCE)
    assert relay.run_once() == 1
    assert positions.get("demo") > 0


def test_a_batch_the_broker_refuses_keeps_the_position(amqp_uri):
    # A queue that refuses what does not fit makes the broker nack: a real refusal, not a mock.
    from kombu import Connection, Queue
    from services.common.relay import PublishNotConfirmed
    app = DemoApp()
    positions = PositionStore(var_dir() / "relay-test3.db")
    relay = NotificationRelay(app, to_integration, AmqpPublisher(amqp_uri, SOURCE), positions, name="demo")
    for i in range(10):
        app.write(f"note {i}")
    with Connection(amqp_uri) as conn:
        small = Queue(f"plumbing-small-{uuid.uuid4().hex[:6]}", exchange=relay.publisher.exchange,
                      routing_key="Noted", auto_delete=True,
                      queue_arguments={"x-max-length": 5, "x-overflow": "reject-publish"})(conn.channel())
        small.declare()
        with pytest.raises(PublishNotConfirmed):
            relay.run_once()
        assert positions.get("demo") == 0  # nothing counts: the whole batch is published again
        small.purge()
        small.delete()
    assert relay.run_once() == 10  # on a fresh channel, once the broker takes them
    assert positions.get("demo") > 0
    with Connection(amqp_uri) as conn:  # leave the sink's queue as the other tests expect it
        queue(subscription("plumbingsink", SOURCE))(conn.channel()).purge()


def test_acks_that_come_out_of_order_still_confirm_the_batch(amqp_uri):
    # The broker confirms a message no queue takes at once, a persistent one in a durable queue
    # after its disk write: in one batch their acks can come in any order.
    def with_unheard(domain_event):
        for envelope in to_integration(domain_event):
            yield envelope
            yield make_envelope(UNHEARD, aggregate_id=domain_event.originator_id,
                                aggregate_version=domain_event.originator_version,
                                occurred_at=domain_event.timestamp, payload=envelope["payload"])

    app = DemoApp()
    positions = PositionStore(var_dir() / "relay-test4.db")
    publisher = AmqpPublisher(amqp_uri, SOURCE)
    publisher.CONFIRM_TIMEOUT = 5
    relay = NotificationRelay(app, with_unheard, publisher, positions, name="demo")
    for i in range(60):
        app.write(f"note {i}")
    started = time.monotonic()
    assert relay.run_once() == 60
    assert time.monotonic() - started < 3
    assert publisher._acked == publisher._sent == 120
    from kombu import Connection
    with Connection(amqp_uri) as conn:
        queue(subscription("plumbingsink", SOURCE))(conn.channel()).purge()


@pytest.mark.slow
def test_postgres_event_store_under_eventlet(container_factory, config, monkeypatch):
    """Scale-out store: parallel commands through RPC on PostgreSQL, relayed to a consumer once each."""
    monkeypatch.setenv("EVENT_STORE", "postgres")
    monkeypatch.setenv("EVENT_STORE_URL", f"postgresql+psycopg2://postgres@localhost:5432/eport_test_{uuid.uuid4().hex[:8]}")
    demo = container_factory(DemoService, config)
    sink = container_factory(SinkService, config)
    demo.start()
    sink.start()
    texts = [f"pg-{i}" for i in range(30)]
    def writer(chunk):  # a standalone proxy is not safe across green threads: one each
        with ClusterRpcProxy(config) as cluster:
            return [getattr(cluster, SOURCE).write(text) for text in chunk]

    pool = eventlet.GreenPool(6)
    ids = [i for chunk in pool.imap(writer, [texts[k::6] for k in range(6)]) for i in chunk]
    assert len(set(ids)) == 30
    # (the queue is the session's: events of earlier tests may arrive too)
    wait_for(lambda: len([t for t in SinkApp.effects if t.startswith("pg-")]) >= 30, timeout=20)
    eventlet.sleep(0.3)
    assert sorted(t for t in SinkApp.effects if t.startswith("pg-")) == sorted(texts)


def test_operator_rewind_republishes_and_consumers_ignore_repeats(container_factory, config):
    from deploy import replay

    demo = container_factory(DemoService, config)
    sink = container_factory(SinkService, config)
    demo.start()
    sink.start()
    with entrypoint_hook(demo, "write") as write:
        write("rewind-a")
        write("rewind-b")
    wait_for(lambda: {"rewind-a", "rewind-b"} <= set(SinkApp.effects))
    relay = next(d for d in demo.dependencies if isinstance(d, EventSourced)).relay
    wait_for(lambda: relay.pending() == 0)
    assert relay.app.recorder.max_notification_id() == 2
    replay.rewind(SOURCE, 0)
    assert relay.pending() == 2
    wait_for(lambda: relay.pending() == 0)
    eventlet.sleep(0.5)
    assert sorted(t for t in SinkApp.effects if t.startswith("rewind-")) == ["rewind-a", "rewind-b"]


@pytest.mark.slow
def test_two_instances_on_postgres_publish_each_event_once_and_take_over(container_factory, config,
                                                                          monkeypatch, amqp_uri):
    """Scale-out: instances of a service on one PostgreSQL store share the relay position, and only
    the holder of the relay lease publishes; when it stops, another instance takes over."""
    from kombu import Connection, Queue

    from contracts.subscriptions import exchange

    monkeypatch.setenv("EVENT_STORE", "postgres")
    monkeypatch.setenv("EVENT_STORE_URL",
                       f"postgresql+psycopg2://postgres@localhost:5432/eport_test_{uuid.uuid4().hex[:8]}")
    tap = Queue(f"tap-{uuid.uuid4().hex[:8]}", exchange=exchange(SOURCE), routing_key="#", durable=False,
                auto_delete=False)
    with Connection(amqp_uri) as conn:
        tap(conn.channel()).declare()
    first = container_factory(DemoService, config)
    second = container_factory(DemoService, config)
    first.start()
    second.start()

    def relays(container):
        return next(d for d in container.dependencies if isinstance(d, EventSourced)).relay

    def count():
        with Connection(amqp_uri) as conn:
            return tap(conn.channel()).queue_declare(passive=True).message_count

    with entrypoint_hook(first, "write") as write_first, entrypoint_hook(second, "write") as write_second:
        for i in range(5):
            write_first(f"lease-a{i}")
            write_second(f"lease-b{i}")
    wait_for(lambda: count() >= 10, timeout=20)
    eventlet.sleep(1.0)
    assert count() == 10  # not 20: one relay publishes for both instances

    holder = first if relays(first).positions._leases else second
    other = second if holder is first else first
    holder.stop()
    with entrypoint_hook(other, "write") as write:
        write("after the holder stopped")
    wait_for(lambda: count() >= 11, timeout=20)
    with Connection(amqp_uri) as conn:
        tap(conn.channel()).delete()


class Replier:
    name = "plumbingreplier"

    @rpc
    def page(self, count):
        return [{"n": i, "text": "事件" * 8} for i in range(count)]

    @rpc
    def unserialisable(self):
        return {"at": object()}


def test_replies_are_serialised_once_and_an_unserialisable_one_is_an_error_not_an_exit(container_factory, config):
    container = container_factory(Replier, config)
    container.start()
    with ClusterRpcProxy(config) as cluster:
        assert cluster.plumbingreplier.page(5000)[4999] == {"n": 4999, "text": "事件" * 8}
        with pytest.raises(Exception, match="UnserializableValueError|Unserializable"):
            cluster.plumbingreplier.unserialisable()
        assert cluster.plumbingreplier.page(1) == [{"n": 0, "text": "事件" * 8}]  # the container lives on

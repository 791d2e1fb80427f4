"""A consumer that starts before its source's exchange exists (a broker set up without
`deploy.broker setup`, its owner never started): it never declares the exchange (its broker user may
not: deploy/broker_policy.py), its service starts anyway, it says so once, and it gets the events
once the owner declares the exchange (services/common/exchange_binding.py). Real RabbitMQ, a vhost of this
module's own, its guest user: allowed to declare, so the test sees that the consumer does not.
The same for RPC: a service and its callers started before `nameko-rpc` exists (no role may declare it)."""
import logging
import uuid

import eventlet
import pytest
from eventsourcing.domain import Aggregate, event
from kombu import Connection
from marshmallow import Schema, fields
from nameko.events import BROADCAST
from nameko.rpc import get_rpc_exchange
from nameko.testing.services import dummy, entrypoint_hook

from contracts.envelope import make_envelope
from contracts.errors import ServiceError
from contracts.subscriptions import Subscription, exchange
from deploy.launch import Platform
from gateway.sessions import revocation_handler
from services.common.application import ServiceApplication
from services.common.exchange_binding import exchange_exists
from services.common.dependency import EventSourced
from services.common.messaging import on_event
from services.common.rpc import RpcProxy, call_with_deadline, rpc
from tests.support import base_amqp_uri, own_event_type, own_vhost, registered, signed, wait_for

pytestmark = pytest.mark.integration

SOURCE = "latesource"
SINK = "latesink"


class NotedPayload(Schema):
    text = fields.String(required=True)


NOTED = own_event_type(SOURCE, "Noted", NotedPayload)


@pytest.fixture(scope="module", autouse=True)
def _registered():  # this suite's own event types and subscription, in contracts' registries while it runs
    with registered(NOTED, subscriptions=[Subscription(SINK, SOURCE, ("Noted",))]):
        yield


class Note(Aggregate):
    @event("Written")
    def __init__(self, text):
        self.text = text


class SourceApp(ServiceApplication):
    service_name = SOURCE

    def write(self, text):
        self.save(Note(text))


def to_integration(domain_event):
    yield make_envelope(NOTED, aggregate_id=domain_event.originator_id,
                        aggregate_version=domain_event.originator_version, occurred_at=domain_event.timestamp,
                        payload={"text": domain_event.text})


class SourceService:
    name = SOURCE
    app = EventSourced(SourceApp, to_integration, relay_idle_seconds=0.1)

    @rpc
    def write(self, text):
        self.app.write(text)


class SinkService:
    name = SINK
    heard = []

    @on_event(SINK, SOURCE, retry_delay=0.1)
    def on_noted(self, envelope):
        SinkService.heard.append(envelope["payload"]["text"])


class BroadcastListener:
    """As the gateway hears identity's revocations: nameko's broadcast handler, exclusive queue."""
    name = "latelistener"
    heard = []

    @revocation_handler(SOURCE, "Noted", handler_type=BROADCAST, reliable_delivery=False)
    def on_noted(self, body):
        BroadcastListener.heard.append(body)


class Echo:
    name = "lateecho"

    @rpc
    def echo(self, text):
        return text


class EchoCaller:
    name = "latecaller"
    echo_service = RpcProxy("lateecho")

    @dummy
    def call(self, text):
        return call_with_deadline(self.echo_service.echo, text, deadline=5)


@pytest.fixture
def bare_config(config, fresh_var):
    """A vhost where no exchange exists yet, nameko-rpc included."""
    with own_vhost("eport-late", exchanges=False) as uri:
        if uri == base_amqp_uri():
            pytest.skip("needs a vhost of its own (rabbitmqctl), where no exchange exists yet")
        yield dict(config, AMQP_URI=uri)


@pytest.fixture
def vhost_config(bare_config):
    with Connection(bare_config["AMQP_URI"]) as conn:  # as setup does: these tests are about <source>.events
        get_rpc_exchange({})(conn.default_channel).declare()
    return bare_config


def exists(uri, name):
    with Connection(uri) as conn:
        return exchange_exists(conn.default_channel, name)


def started(container_factory, cls, config):
    container = container_factory(cls, config)
    with eventlet.Timeout(15):  # before the change, a consumer that may not declare never started
        container.start()
    return container


def test_a_subscriber_started_first_neither_declares_nor_waits_and_gets_the_events(container_factory, vhost_config,
                                                                                   caplog):
    SinkService.heard.clear()
    caplog.set_level(logging.INFO, logger="services.common.exchange_binding")
    started(container_factory, SinkService, vhost_config)
    assert not exists(vhost_config["AMQP_URI"], f"{SOURCE}.events")  # guest could have: the consumer did not
    waiting = [r for r in caplog.records if "waits for exchange latesource.events" in r.getMessage()]
    assert len(waiting) == 1
    source = started(container_factory, SourceService, vhost_config)
    with entrypoint_hook(source, "write") as write:
        write("after the exchange appeared")  # the relay declares it, and the sink's queue bound to it
    wait_for(lambda: SinkService.heard == ["after the exchange appeared"], what="the event at the sink")
    wait_for(lambda: any("bound to exchange latesource.events" in r.getMessage() for r in caplog.records),
             what="the sink binding its queue itself")
    eventlet.sleep(3)  # further rechecks: none, and no second warning
    assert len([r for r in caplog.records if "waits for exchange" in r.getMessage()]) == 1


def test_a_broadcast_handler_started_first_binds_once_the_owner_declares(container_factory, vhost_config):
    BroadcastListener.heard.clear()
    started(container_factory, BroadcastListener, vhost_config)
    uri = vhost_config["AMQP_URI"]
    assert not exists(uri, f"{SOURCE}.events")
    with Connection(uri) as conn:  # as the owner's relay does before its first publish
        exchange(SOURCE)(conn.default_channel).declare()
        producer = conn.Producer(exchange=exchange(SOURCE), serializer="json")

        noted = signed(make_envelope(NOTED, aggregate_id=uuid.uuid4(), aggregate_version=1,
                                     occurred_at="2026-12-07T08:00:00+00:00", payload={"text": "n"}))

        def heard():
            producer.publish(noted, routing_key="Noted")  # dropped until the queue is bound
            return BroadcastListener.heard

        wait_for(heard, timeout=10, interval=0.5, what="the broadcast queue bound to the new exchange")


def test_an_rpc_service_and_its_caller_started_first_neither_declare_nor_crash_and_answer_once_it_exists(
        container_factory, bare_config, caplog):
    caplog.set_level(logging.INFO, logger="services.common.exchange_binding")
    started(container_factory, Echo, bare_config)
    caller = started(container_factory, EchoCaller, bare_config)
    uri = bare_config["AMQP_URI"]
    assert not exists(uri, "nameko-rpc")  # guest could have: neither the service nor the proxy did
    waiting = [r.getMessage() for r in caplog.records if "waits for exchange nameko-rpc" in r.getMessage()]
    assert len(waiting) == 2 and any(m.startswith("rpc-lateecho ") for m in waiting), waiting
    with entrypoint_hook(caller, "call") as call:
        with pytest.raises(ServiceError):  # no exchange to publish to: a 503, not a crash
            call("too early")
    with Connection(uri) as conn:  # what `python -m deploy.broker setup` declares
        get_rpc_exchange({})(conn.default_channel).declare()
    wait_for(lambda: len([r for r in caplog.records if "bound to exchange nameko-rpc" in r.getMessage()]) == 2,
             timeout=10, what="both queues bound")
    with entrypoint_hook(caller, "call") as call:
        assert call("in time") == "in time"


def test_the_launcher_without_broker_users_declares_what_setup_would(bare_config):
    """`make run` on a broker where setup cannot run, and the benchmarks' vhosts: every service
    connects as AMQP_URI's user, and no service declares nameko-rpc any more."""
    uri = bare_config["AMQP_URI"]
    Platform(env={"AMQP_URI": uri}, only=("no service",), quiet=True).start()
    assert exists(uri, "nameko-rpc") and exists(uri, "identity.events")


def test_the_eport_tool_says_in_one_line_that_the_broker_has_no_rpc_exchange(bare_config, monkeypatch):
    from deploy.eport.broker import rpc as eport_rpc
    from deploy.eport.errors import UNAVAILABLE, CommandError

    uri = bare_config["AMQP_URI"]
    monkeypatch.setenv("EPORT_AMQP_URI", uri)
    with pytest.raises(CommandError) as refused:
        with eport_rpc(timeout=5):
            pass
    assert refused.value.code == UNAVAILABLE and "deploy.broker setup" in str(refused.value)
    assert not exists(uri, "nameko-rpc")

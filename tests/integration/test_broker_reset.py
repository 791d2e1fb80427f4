"""A worker that finishes just as the broker resets its connection (a stopping RabbitMQ does) settles
its message on a dead socket. Its service lives on and reconnects, and the message, whose
acknowledgement was lost, is delivered again (services/common/consuming.py). Before, the socket's
error ended the worker's thread, nameko killed the container, and the service's process exited:
authz did so once in three broker restarts of the fault tests.

The handler itself resets the service's link to the broker (tests/fault/broker_link.py) and returns
at once: the RST is in before the consume loop can notice it, so the race is certain here.
"""
import uuid
from urllib.parse import urlparse

import pytest
from kombu import Connection, Producer
from nameko.standalone.rpc import ServiceRpcProxy

from contracts.enterprise import ASSOCIATION_REQUESTED
from contracts.envelope import make_envelope
from contracts.subscriptions import exchange, queue, subscription
from services.common.messaging import on_event
from services.common.rpc import rpc
from tests.fault.broker_link import BrokerLink
from tests.support import own_vhost, signed, wait_for

pytestmark = pytest.mark.integration


class Resets:
    """Every run of a handler; the first run of `what` in `RESETTING` resets the link's `oldest`
    connections before it returns."""
    link = None
    runs = []
    oldest = None

    @classmethod
    def run(cls, what):
        cls.runs.append(what)
        if what != "warm-up" and cls.runs.count(what) == 1:
            cls.link.reset(cls.oldest)  # waits for the RST in a real thread: no green thread runs meanwhile


class EventSink:
    name = "notify"

    @on_event("notify", "enterprise")
    def on_enterprise_event(self, envelope):
        Resets.run(envelope["event_id"])


class Echo:
    name = "echo"

    @rpc
    def echo(self, value):
        Resets.run(value)
        return value


@pytest.fixture
def through_link(container_factory):
    """start(ServiceClass) runs it on a vhost of its own, through the link; and that vhost's URI."""
    link = BrokerLink()
    Resets.link, Resets.runs, Resets.oldest = link, [], None
    started = []
    with own_vhost("eport-reset") as direct_uri:
        vhost = urlparse(direct_uri).path.lstrip("/")

        def start(service_cls):
            container = container_factory(service_cls, {"AMQP_URI": link.uri(vhost), "serializer": "json"})
            container.start()
            started.append(container)
            return container

        yield start, link, direct_uri
        for container in started:
            container.kill()  # before its vhost goes
    link.cut()


def died(container):
    return container._died.ready()  # nameko sets it when a thread of the container ended in error


def publish_event(amqp_uri):
    envelope = signed(make_envelope(ASSOCIATION_REQUESTED, aggregate_id=str(uuid.uuid4()), aggregate_version=1,
                             occurred_at="2026-12-01T08:00:00+00:00",
                             payload={"association_id": str(uuid.uuid4()), "enterprise_id": str(uuid.uuid4()),
                                      "user_id": str(uuid.uuid4()), "role": "user",
                                      "admin_user_id": str(uuid.uuid4()), "enterprise_name": "重置测试有限公司"}))
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        queue(subscription("notify", "enterprise"))(channel).declare()
        Producer(channel, exchange=exchange("enterprise"), serializer="json").publish(
            envelope, routing_key=envelope["event_type"], delivery_mode=2)
    return envelope


def test_an_event_handled_across_a_reset_comes_again_and_its_service_lives(through_link):
    start, link, direct_uri = through_link
    container = start(EventSink)
    connections = link.accepted
    envelope = publish_event(direct_uri)
    wait_for(lambda: len(Resets.runs) >= 2 or died(container), 20, "the event delivered again after the reset")
    assert not died(container), "the consumer's container was killed by the reset"
    assert Resets.runs == [envelope["event_id"]] * 2  # the lost ack: once more, and only once
    assert link.accepted > connections  # its consume loop reconnected


def test_a_request_answered_across_a_reset_is_answered_and_its_service_lives(through_link):
    """Only the consume loop's connection (the container's first) is reset: the reply goes out on
    the warm one of the replies, without a pause in which the loop could notice, then the ack fails."""
    start, link, direct_uri = through_link
    container = start(Echo)
    Resets.oldest = 1
    with ServiceRpcProxy("echo", {"AMQP_URI": direct_uri, "serializer": "json"}, timeout=20) as echo:
        assert echo.echo("warm-up") == "warm-up"
        assert echo.echo("first") == "first"
        wait_for(lambda: Resets.runs.count("first") >= 2 or died(container), 20,
                 "the request delivered again after the reset")
        assert not died(container), "the RPC consumer's container was killed by the reset"
        assert echo.echo("second") == "second"  # reconnected, serving
    assert Resets.runs == ["warm-up", "first", "first", "second"]

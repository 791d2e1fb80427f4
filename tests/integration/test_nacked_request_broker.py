"""A confirmed request the real broker nacks is an outage: 503 SERVICE_UNAVAILABLE, never a 500, and
the process's publishing connections renewed (services/common/rpc.py `call_with_deadline`,
services/common/publishing_channels.py; issue 25 item 1).

The broker nacks here because the service's queue takes no message (x-max-length 0, overflow
reject-publish: RabbitMQ answers a confirmed publish to it with basic.nack), as a channel stuck on a
dead quorum queue leader nacks every message for that queue (tests/fault/test_rabbit_cluster.py)."""
import uuid

import kombu
import pytest
from nameko.testing.services import entrypoint_hook

from contracts import errors as e
from contracts.errors import ServiceError
from services.common import publishing_channels
from services.common.rpc import RpcProxy, call_with_deadline, rpc

NAME = f"nackprobe{uuid.uuid4().hex[:8]}"


class Caller:
    name = f"{NAME}_caller"
    target = RpcProxy(NAME)  # confirmed, as the gateway's card_if_deployed and every service's calls

    @rpc
    def ask(self):
        try:
            return call_with_deadline(self.target.anything, deadline=5)
        except ServiceError as refused:
            return refused.code


@pytest.fixture
def refusing_queue(amqp_uri):
    """The target's RPC queue, full before its first message: every confirmed publish to it is nacked."""
    with kombu.Connection(amqp_uri) as connection:
        exchange = kombu.Exchange("nameko-rpc", type="topic", durable=True)
        queue = kombu.Queue(f"rpc-{NAME}", exchange, routing_key=f"{NAME}.*", durable=True,
                            queue_arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
        queue(connection.default_channel).declare()
        yield
        queue(connection.default_channel).delete()


def test_a_request_the_broker_nacks_is_a_503_and_renews_the_publishing_connections(
        refusing_queue, container_factory, config, monkeypatch):
    monkeypatch.setattr(publishing_channels, "_renewed", [float("-inf")])
    container = container_factory(Caller, config)
    container.start()
    with entrypoint_hook(container, "ask") as ask:
        assert ask() == e.SERVICE_UNAVAILABLE
    assert publishing_channels._renewed[0] > float("-inf")  # renewed: the next request goes on a new channel


class HandingOver:
    name = f"{NAME}_handing_over"
    target = RpcProxy(NAME)

    @rpc
    def hand_over(self):
        self.target.anything.call_async()  # not waiting for the answer, as identity hands an SMS code to notify


def test_a_hand_off_the_broker_nacks_is_an_outage_and_renews_the_publishing_connections(
        refusing_queue, container_factory, config, monkeypatch):
    """A call not waiting for its answer has no deadline to meet: its nack alone says the channel may
    be stuck, and the request's retries must go on a new one."""
    monkeypatch.setattr(publishing_channels, "_renewed", [float("-inf")])
    container = container_factory(HandingOver, config)
    container.start()
    with pytest.raises(ServiceError) as refused, entrypoint_hook(container, "hand_over") as hand_over:
        hand_over()
    assert refused.value.code == e.SERVICE_UNAVAILABLE
    assert publishing_channels._renewed[0] > float("-inf")

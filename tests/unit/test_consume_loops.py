"""Every consumer of every service (RPC requests, RPC replies, events, the gateway's broadcasts)
settles its messages through services/common/consuming.py's QueueConsumer: nameko's own would end
the process when an ack meets a connection the broker just reset (tests/integration/test_broker_reset.py);
and binds its queues without declaring their exchanges (services/common/exchange_binding.py)."""
import importlib

import pytest
from nameko.containers import ServiceContainer
from nameko.messaging import QueueConsumer as NamekoQueueConsumer

from services.common.exchange_binding import BindsWithoutDeclaring
from services.common.consuming import QueueConsumer
from services.common.deployment import SERVICES

pytestmark = pytest.mark.unit


def service_class(name):
    module, cls = SERVICES[name].split(":")
    return getattr(importlib.import_module(module), cls)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_consume_loop_is_the_one_a_reset_does_not_end(name):
    container = ServiceContainer(service_class(name), {"AMQP_URI": "memory://"})
    loops = [ext for ext in container.extensions if isinstance(ext, NamekoQueueConsumer)]
    assert loops, "a service without consumers?"
    others = [loop for loop in loops if not isinstance(loop, QueueConsumer)]
    assert [f"{type(loop).__module__}.{type(loop).__name__}" for loop in others] == []


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_consume_loop_binds_without_declaring_the_exchanges(name):
    # its broker user may configure neither nameko-rpc nor another service's <source>.events
    # (deploy/broker_policy.py): a loop that declared them would never start with per-service users
    container = ServiceContainer(service_class(name), {"AMQP_URI": "memory://"})
    loops = [ext for ext in container.extensions if isinstance(ext, NamekoQueueConsumer)]
    declaring = [loop for loop in loops if not isinstance(loop, BindsWithoutDeclaring)]
    assert [f"{type(loop).__module__}.{type(loop).__name__}" for loop in declaring] == []

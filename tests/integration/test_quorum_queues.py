"""EPORT_QUEUE_TYPE=quorum: every consumer queue and its dead-letter queue is a quorum queue
(x-queue-type), declared alike by the relay and the consumer, and the plumbing works the same on it:
an event published before the consumer started waits for it, a failing handler's event is
requeued, each effect happens once, a poison event is parked."""
import subprocess

import pytest
from nameko.testing.services import entrypoint_hook

from contracts.subscriptions import subscription
from services.common.deadletters import dead_letter_queue_name
from tests.conftest import create_vhost, delete_vhost, vhost_uri
from services.common.rpc import ClusterRpcProxy
from tests.plumbing_demo import SOURCE, DemoService, SinkApp, published_before_consumer_starts, registered_demo
from tests.support import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def _registered():
    with registered_demo():
        yield


@pytest.fixture
def quorum_config(config, monkeypatch, fresh_var):
    monkeypatch.setenv("EPORT_QUEUE_TYPE", "quorum")
    monkeypatch.setenv("EPORT_MAX_FAILURES", "3")
    vhost = create_vhost("eport-quorum")
    if vhost is None:
        pytest.skip("needs rabbitmqctl to make a vhost of its own")
    SinkApp.effects.clear()
    SinkApp.fail_next.clear()
    yield dict(config, AMQP_URI=vhost_uri(vhost)), vhost
    delete_vhost(vhost)


def queue_types(vhost, column="type"):
    out = subprocess.run(["rabbitmqctl", "list_queues", "-q", "-p", vhost, "name", column],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return dict(line.split("\t")[:2] for line in out.strip().splitlines()[1:] if "\t" in line)


def test_consumer_queues_can_be_quorum_queues(quorum_config, container_factory, monkeypatch):
    config, vhost = quorum_config
    demo = published_before_consumer_starts(container_factory, config, "waits in a quorum queue")
    SinkApp.fail_next.append(True)
    with entrypoint_hook(demo, "write") as write:
        write("requeued once")
    wait_for(lambda: SinkApp.effects == ["waits in a quorum queue", "requeued once"], timeout=20)
    SinkApp.fail_next.extend([True] * 3)  # a poison event: parked in the dead-letter queue
    with entrypoint_hook(demo, "write") as write:
        write("parked")
    name = subscription("plumbingsink", SOURCE).queue_name
    wait_for(lambda: dead_letter_queue_name(name) in queue_types(vhost), timeout=30)
    types = queue_types(vhost)
    assert types[name] == "quorum", types
    assert types[dead_letter_queue_name(name)] == "quorum", types
    assert SinkApp.effects == ["waits in a quorum queue", "requeued once"]


def test_rpc_queues_are_quorum_queues_and_reply_queues_transient(quorum_config, container_factory):
    """On a cluster a classic durable queue is lost while its one node is down (no node lets
    anyone declare it meanwhile): rpc-<service> is a quorum queue too, and a reply queue is
    transient, declared again on whichever node its proxy reconnects to (tests/fault/test_rabbit_cluster.py)."""
    config, vhost = quorum_config
    demo = container_factory(DemoService, config)
    demo.start()
    with ClusterRpcProxy(config) as proxy:
        assert getattr(proxy, SOURCE).write("asked over RPC") is not None
        durable = queue_types(vhost, "durable")
    types = queue_types(vhost)
    assert types[f"rpc-{SOURCE}"] == "quorum", types
    replies = [name for name in durable if name.startswith("rpc.reply-")]
    assert replies and all(durable[name] == "false" for name in replies), durable

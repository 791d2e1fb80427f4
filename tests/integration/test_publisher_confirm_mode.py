"""A confirmed publisher's connection stays in confirm mode through a failover, whatever the process's
unconfirmed publishers (every service's replies, the gateway's requests) send meanwhile
(services/common/publishing_channels.py `OwnTransportOptions`).

The failover is real: the publisher's first address is a node that accepts the connection and
closes it 0.3 s later without a word (as a node killed under its client), the second the test's
broker. While the publisher waits on the first, other green threads publish unconfirmed. The
message goes to a queue that takes none (x-max-length 0, reject-publish): the broker nacks a
confirmed publish to it, as a channel stuck on a dead quorum queue leader nacks, and drops an
unconfirmed one without a word. Before the fix the publish returned as if delivered (checked)."""
import uuid
from urllib.parse import urlsplit, urlunsplit

import eventlet
import kombu
import kombu.pools
import pytest
from nameko.amqp.publish import Publisher

from services.common.rpc import UnconfirmedPublisher, nacked

pytestmark = pytest.mark.integration


@pytest.fixture
def mute_node():
    """The address of a "node" that accepts each connection and closes it 0.3 s later, unanswered."""
    server = eventlet.listen(("127.0.0.1", 0))

    def serve():
        while True:
            connection, _ = server.accept()
            eventlet.spawn_after(0.3, connection.close)

    serving = eventlet.spawn(serve)
    yield f"127.0.0.1:{server.getsockname()[1]}"
    serving.kill()
    server.close()


@pytest.fixture
def refusing_queue(amqp_uri):
    name = f"refusing-{uuid.uuid4().hex[:8]}"
    with kombu.Connection(amqp_uri) as connection:
        queue = kombu.Queue(name, durable=False, auto_delete=False,
                            queue_arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
        queue(connection.default_channel).declare()
        yield name
        queue(connection.default_channel).delete()


@pytest.fixture
def chatter(amqp_uri):
    """Unconfirmed publishes, one every 10 ms, from another green thread: a busy service's replies."""
    replies = UnconfirmedPublisher(amqp_uri)

    def chat():
        while True:
            replies.publish("a reply", exchange="", routing_key=f"nobody-{uuid.uuid4().hex}")
            eventlet.sleep(0.01)

    chatting = eventlet.spawn(chat)
    eventlet.sleep(0.05)
    yield
    chatting.kill()


def test_a_confirmed_publish_failing_over_while_others_publish_unconfirmed_is_still_confirmed(
        amqp_uri, mute_node, refusing_queue, chatter):
    parts = urlsplit(amqp_uri)
    dead = urlunsplit((parts.scheme, f"{parts.netloc.rpartition('@')[0]}@{mute_node}", parts.path, parts.query, ""))
    dead_first = f"{dead};{amqp_uri}"
    kombu.pools.reset()  # a pool of its own: its connection is made below, through the failover
    for _ in range(3):
        with pytest.raises(Exception) as refused:
            Publisher(dead_first).publish("a request", exchange="", routing_key=refusing_queue)
        assert nacked(refused.value), refused.value
        kombu.pools.reset()


def test_each_publisher_keeps_its_own_confirm_mode(amqp_uri, refusing_queue):
    """The other way round: the unconfirmed publisher stays unconfirmed (not nacked: it does not
    wait for the broker) beside a confirmed one, which is nacked, in whichever order they publish."""
    confirmed, unconfirmed = Publisher(amqp_uri), UnconfirmedPublisher(amqp_uri)
    for _ in range(2):
        unconfirmed.publish("dropped", exchange="", routing_key=refusing_queue)
        with pytest.raises(Exception) as refused:
            confirmed.publish("refused", exchange="", routing_key=refusing_queue)
        assert nacked(refused.value)

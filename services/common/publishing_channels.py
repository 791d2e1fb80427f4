"""A process's pooled publishing connections, renewed when a request of theirs got no answer.

Why (issue 25, a RabbitMQ cluster of quorum queues, RabbitMQ 3.10): a channel that first publishes
to a quorum queue while the node of the queue's recorded leader is down (a connection that failed
over a moment after that node's kill -9, before the new leader is recorded) keeps asking that dead
node for as long as it is down. Its quorum client stays without a leader (`leader = undefined,
queue_status = undefined`, the dead node first in its servers: seen in `sys:get_state` of the
gateway's publishing channel during a stall, tests/fault/cluster_kills.py) and rejects every
message it is given for that queue. A confirmed publish is nacked; an unconfirmed one, the
gateway's requests (services/common/rpc.py `UnconfirmedPublisher`), is dropped without a word. Every
request of the gateway to that service then went into the void, answered 503 at its deadline, for
minutes, until the node came back or the gateway restarted; a channel opened later, once the new
leader is recorded (within seconds), publishes normally.

So a call that met its deadline closes this process's pooled connections (kombu's pools, where
nameko's publishers take theirs), idle or in use: the next requests go on new channels. At most
once per `RENEW_EVERY` seconds, so that a service that is simply down costs no reconnect storm.

And each publisher's connections keep its confirm mode (`OwnTransportOptions`): a stuck channel
nacks a confirmed publish, which the caller sees, but drops an unconfirmed one without a word.
"""
import logging
import time

import kombu.pools
from nameko.amqp.publish import Publisher
from nameko.constants import DEFAULT_TRANSPORT_OPTIONS

log = logging.getLogger(__name__)

RENEW_EVERY = 5.0  # seconds
_renewed = [float("-inf")]


def renew_after_a_lost_answer(clock=time.monotonic):
    """Closes every pooled connection of this process (they reconnect on their next use), unless
    that was done less than RENEW_EVERY seconds ago. True when it renewed them."""
    now = clock()
    if now - _renewed[0] < RENEW_EVERY:
        return False
    _renewed[0] = now
    pools = list(kombu.pools.connections.values())
    for pool in pools:
        # kombu's reset of one pool: its connections closed (collected), the pool itself kept and
        # filled again; connections in use are collected too, their publish retries on a new one
        pool.resize(pool.limit, reset=True)
    log.warning("a call got no answer in time: %d pool(s) of publishing connections renewed (a channel "
                "may be stuck on a dead quorum queue leader)", len(pools))
    return True


class OwnTransportOptions:
    """nameko's `Publisher.transport_options` is one dict of the class, shared by every publisher of
    the process, and each publish sets its `confirm_publish` in that dict before it takes a pooled
    connection. kombu's pooled connections keep the dict they were made with, that same one, and
    read it whenever they connect again: a connection of a confirmed publisher that failed over to
    another node (its first address dead, a yield to other green threads in between) came up in
    whatever mode the process's last publish set, most often a reply's, unconfirmed. Its requests
    then went down a channel stuck on a dead quorum queue leader without a nack: identity's SMS
    hand-offs to notify, answered 202 and never sent (tests/fault/test_rabbit_cluster.py, 1 run in
    4 on a busy machine; tests/integration/test_publisher_confirm_mode.py). Each publish now gets a
    dict of its own, which only it sets, and the pool its connection comes from keeps it."""

    def __get__(self, publisher, owner=None):
        return dict(DEFAULT_TRANSPORT_OPTIONS)


Publisher.transport_options = OwnTransportOptions()

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
"""
import logging
import time

import kombu.pools

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

"""The platform on a three-node RabbitMQ cluster (tests/rabbit_cluster.py), as production runs it:
EPORT_QUEUE_TYPE=quorum, every service as its own broker user (deploy/broker.py setup, on the
cluster), and AMQP_URI naming the three nodes, which every connection fails over between
(services/common/broker_addresses.py).

Under steady load (tests/fault/load.py): node a, where every connection starts, is stopped
gracefully, then started again; then node b, where they all failed over to, is killed (kill -9),
then started again; then node c alike. Quorum queues keep a majority (two of three) through each. Proven after, as
for the single broker's faults (test_broker_and_kills.py): every acknowledged story is stored,
every consumer effect happened once (the inbox, authz, the audit log), no answer was a 500, and no
process exited (the launcher's supervision is off: an exit would show). A 503 may only come while
a connection fails over: each falls within a fault's window, and they are counted and bounded.
"""
import collections
import json
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import amqp
import eventlet
import pytest

from contracts.errors import ServiceError
from services.common.broker_addresses import addresses
from services.common.rpc import UnconfirmedPublisher, call_with_deadline

from .conftest import launched, under_load, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

USERS = 3  # virtual users of the load
# a, where every connection starts, stopped; then b, where they went, killed; then c, where the
# publishers' pooled connections went on, killed
FAULTS = (("stop", "a"), ("kill", "b"), ("kill", "c"))
DOWN = 10  # seconds at least that a node stays down, the load going on
SETTLE = 20  # seconds after a node is back that a late 503 still counts as its fault's
# A request in flight when its connection drops may lose its reply (a 503 at the deadline), and its
# retry once more while the connections move: at most two per virtual user and fault.
MAX_503_PER_FAULT = 2 * USERS


@pytest.fixture(scope="module")
def on_cluster(rabbit_cluster):
    with launched(cluster=rabbit_cluster, env={"EPORT_QUEUE_TYPE": "quorum"}) as p:
        yield p, rabbit_cluster


def queues(cluster, vhost, letter="c"):
    out = cluster.ctl(letter, "list_queues", "-q", "-p", vhost, "name", "type", "durable", "members",
                      "--formatter", "json").stdout
    return json.loads(out)


def connections_by_node(cluster, letter):
    """How many of the platform's connections each node holds (known by the AMQP port they reached)."""
    rows = json.loads(cluster.ctl(letter, "list_connections", "-q", "port", "vhost", "--formatter", "json").stdout)
    ports = {node.port: x for x, node in cluster.nodes.items()}
    return collections.Counter(ports[row["port"]] for row in rows if row["port"] in ports)


def test_every_durable_queue_is_a_quorum_queue_on_all_three_nodes(on_cluster):
    """A classic durable queue lives on one node: while it is down no node lets anyone declare or
    consume it. So every durable queue of the platform (rpc-<service>, the consumers' and their
    dead-letter queues) is a quorum queue with a member on every node; reply queues are transient."""
    p, cluster = on_cluster
    found = queues(cluster, p.vhost)
    durable = {q["name"]: q for q in found if q["durable"]}
    assert {f"rpc-{name}" for name in p.platform.procs if name != "gateway"} <= set(durable)
    assert any(name.endswith("-events") for name in durable)
    classic = sorted(name for name, q in durable.items() if q["type"] != "quorum")
    assert not classic, f"durable classic queues, each lost while its node is down: {classic}"
    assert all(len(q["members"]) == 3 for q in durable.values()), durable
    replies = [q for q in found if q["name"].startswith("rpc.reply-")]
    assert replies and not any(q["durable"] for q in replies)


def test_a_node_stopped_then_another_killed_under_load(on_cluster):
    p, cluster = on_cluster
    with p.unsupervised():
        load = under_load(p, users=USERS)
        try:
            faults = [fault(cluster, p.vhost, load, how, letter) for how, letter in FAULTS]
        finally:
            load.stop()  # also when a fault fails: its virtual users must not outlive the test
    load.verify(p.var)
    for f, after in zip(faults, faults[1:] + [None], strict=True):  # a fault's window ends where the next begins
        f["until"] = min(f["until"], after["from"]) if after else f["until"]
        f["failed"] = [a for a in load.failed_at if f["from"] <= a[0] <= f["until"]]
    outside = [a for a in load.failed_at if not any(f["from"] <= a[0] <= f["until"] for f in faults)]
    assert not outside, f"failed answers outside the faults' windows: {outside[:5]}"
    for f in faults:
        print(report(f))
        assert len(f["failed"]) <= MAX_503_PER_FAULT, report(f)
        assert {status for _, _, status in f["failed"]} <= {503, "no answer"}, report(f)
    print(f"on the cluster: {load.summary()}")


def fault(cluster, vhost, load, how, letter):
    """Stops (gracefully) or kills node `letter` under load, waits for the load to go on, starts the
    node again and waits for the load to go on again; what it saw."""
    others = [x for x in cluster.nodes if x != letter]
    held = connections_by_node(cluster, others[0])[letter]
    assert held, f"node {letter} holds none of the platform's connections: its {how} would prove nothing"
    before, began = load.acknowledged(), time.monotonic()
    getattr(cluster, how)(letter)
    down = time.monotonic()
    try:
        wait_for(lambda: load.acknowledged() >= before + 3, 90, f"load going on with node {letter} down")
    except AssertionError as exc:
        seen = what_was(cluster, vhost, load, others[0], began)
        cluster.start(letter)  # the module's next tests need three nodes: this failure alone is reported
        raise AssertionError(f"{exc}: {seen}") from None
    time.sleep(max(0.0, down + DOWN - time.monotonic()))
    moved = connections_by_node(cluster, others[0])
    cluster.start(letter)
    back = load.acknowledged()
    wait_for(lambda: load.acknowledged() >= back + 2, 90, f"load going on with node {letter} back")
    return {"fault": f"{'stop' if how == 'stop' else 'kill -9'} of node {letter}", "held": held,
            "moved": dict(moved), "from": began, "until": time.monotonic() + SETTLE, "took": down - began,
            "pause": load.longest_pause(began, time.monotonic()), "acknowledged": load.acknowledged() - before}


def what_was(cluster, vhost, load, letter, began):
    """The load's answers, the queues and the connections, for a failure's message."""
    failed = [(round(t - began, 1), step, status) for t, step, status in load.failed_at[-8:]]
    listed = cluster.ctl(letter, "list_queues", "-q", "-p", vhost, "name", "type", "leader", "online", "consumers",
                         "messages").stdout
    return f"{load.summary()}; last failed answers {failed}; {connections_by_node(cluster, letter)}\n{listed}"


def report(f):
    statuses = collections.Counter(status for _, _, status in f["failed"])
    last = max((t for t, _, _ in f["failed"]), default=f["from"]) - f["from"]
    return (f"{f['fault']} (took {f['took']:.1f} s; {f['held']} connections on it, then {f['moved']}): "
            f"{f['acknowledged']} stories acknowledged meanwhile, 0 lost; failed answers {dict(statuses) or 0}, "
            f"the last {last:.1f} s after the fault; longest pause between two stories {f['pause']:.1f} s")


def test_no_broker_password_in_any_log(on_cluster):
    """After the faults above: the reconnections were logged, each naming every node's address,
    and no line holds a broker user's password (nameko's hid the first address's only)."""
    p, _ = on_cluster
    passwords = {unquote(urlsplit(address).password) for uri in p.platform.broker_uris.values()
                 for address in addresses(uri)}
    logs = {path.name: path.read_text(errors="replace") for path in Path(p.var, "logs").glob("*.log")}
    assert any("Error connecting to broker at" in text for text in logs.values()), "no reconnection was logged"
    leaked = sorted(name for name, text in logs.items() if any(password in text for password in passwords))
    assert not leaked, f"a broker password in the logs of {leaked}"


def test_a_call_that_got_no_answer_renews_a_channel_stuck_on_a_dead_leader(on_cluster):
    """The stall's cause, made certain (services/common/publishing_channels.py): a channel that first
    publishes to a quorum queue right after its leader's node was killed drops every unconfirmed
    message for that queue, even once the new leader is recorded; the gateway's requests went down
    such a channel for minutes. A call that meets its deadline renews the pooled connections, and
    the next publish lands. Last in the module: the killed node stays down (the cluster goes with it)."""
    p, cluster = on_cluster
    queue = f"stuck-{time.monotonic_ns()}"
    declare = cluster.nodes["c"]
    with amqp.Connection(f"127.0.0.1:{declare.port}", virtual_host=p.vhost) as conn:
        conn.channel().queue_declare(queue, durable=True, auto_delete=False, arguments={"x-queue-type": "quorum"})
    leader = wait_for(lambda: leader_of(cluster, p.vhost, queue), 30, f"a leader of {queue}")
    survivors = [x for x in cluster.nodes if x != leader]
    publisher = UnconfirmedPublisher(cluster.uri(p.vhost, letters=survivors))
    cluster.kill(leader)
    publisher.publish("sent at once", routing_key=queue, exchange="")  # its channel learns the dead leader
    wait_for(lambda: leader_of(cluster, p.vhost, queue, survivors[0]) in survivors, 60, "a new leader recorded")
    publisher.publish("sent once the new leader is recorded", routing_key=queue, exchange="")
    assert taken(cluster, p.vhost, queue, survivors[0]) == [], "the stuck channel delivered: nothing to renew"
    with pytest.raises(ServiceError):  # a request whose answer never comes
        call_with_deadline(lambda: publisher.publish("a request", routing_key=queue, exchange="") or eventlet.sleep(5),
                           deadline=0.5)
    publisher.publish("sent after the renewal", routing_key=queue, exchange="")
    assert "sent after the renewal" in wait_for(lambda: taken(cluster, p.vhost, queue, survivors[0]), 10,
                                                "the message published after the renewal")


def leader_of(cluster, vhost, queue, letter="a"):
    rows = cluster.ctl(letter, "list_queues", "-q", "-p", vhost, "name", "leader", "--formatter", "json").stdout
    found = {row["name"]: row["leader"] for row in json.loads(rows)}.get(queue)
    return next((x for x, node in cluster.nodes.items() if node.name == found), None)


def taken(cluster, vhost, queue, letter):
    """The bodies of the messages in `queue`, taken off it through a new connection to `letter`."""
    with amqp.Connection(f"127.0.0.1:{cluster.nodes[letter].port}", virtual_host=vhost) as conn:
        channel, bodies = conn.channel(), []
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            bodies.append(json.loads(message.body))
        return bodies

"""Reproduces a stall after a RabbitMQ node's kill -9: the platform on a cluster of its own
(tests/rabbit_cluster.py), under load, the node that holds the gateway's connections killed,
again and again. A kill after which no story is acknowledged for STALL seconds is a stall: its
evidence (py-spy of the gateway, the surviving nodes' connections, consumers, queues and
bindings) goes to a folder, then the node is started again and the next kill follows.

    EPORT_CLUSTER_KILLS=9 .venv/bin/python -m pytest -p no:cacheprovider tests/fault/cluster_kills.py -s
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.rabbit_cluster import RabbitCluster

from .conftest import launched, under_load, wait_for

STALL = 40  # seconds without an acknowledged story after a kill
DOWN = float(os.environ.get("EPORT_CLUSTER_DOWN", 10))  # seconds at least that a killed node stays down


# every local channel: its user, confirm mode, pending Raft commands, and its whole state (the
# quorum queue clients: their leader, their pending commands)
CHANNEL_STATES = """
lists:foreach(fun(P) ->
    Info = rabbit_channel:info(P, [user, confirm, pending_raft_commands, messages_unconfirmed, consumer_count]),
    io:format("~n=== ~p ~p~n~P~n", [P, Info, sys:get_state(P, 5000), 60])
  end, rabbit_channel:list_local()), ok.
"""


def gateway_node(cluster):
    """The letters of the nodes holding the gateway's connections, with how many each."""
    for letter in cluster.nodes:
        done = cluster.ctl(letter, "list_connections", "-q", "user", "port", "--formatter", "json", check=False)
        if done.returncode == 0:
            rows = json.loads(done.stdout)
            ports = {node.port: x for x, node in cluster.nodes.items()}
            held = {}
            for row in rows:
                if row["user"].endswith("-gateway") and row["port"] in ports:
                    held[ports[row["port"]]] = held.get(ports[row["port"]], 0) + 1
            return held
    return {}


def evidence(cluster, p, letter, folder):
    folder.mkdir(parents=True, exist_ok=True)
    gateway = p.platform.procs["gateway"].pid
    spy = Path(sys.executable).parent / "py-spy"
    for i in range(2):
        dump = subprocess.run([str(spy), "dump", "--pid", str(gateway), "--locals"], capture_output=True, text=True)
        (folder / f"py-spy-{i}.txt").write_text(dump.stdout + dump.stderr)
        time.sleep(3)
    if "greendump" in os.environ.get("PYTHONPATH", ""):  # its sitecustomize dumps greenlets on SIGUSR2
        for proc in p.platform.procs.values():
            os.kill(proc.pid, signal.SIGUSR2)
        time.sleep(2)
    for name, proc in p.platform.procs.items():
        dumped = Path(f"/tmp/greendump/{proc.pid}.txt")
        if dumped.exists():
            (folder / f"greenlets-{name}.txt").write_text(dumped.read_text())
    for other in (x for x in cluster.nodes if x != letter):
        for name, args in (("connections", ("list_connections", "user", "port", "peer_port", "state", "channels")),
                           ("consumers", ("list_consumers", "-p", p.vhost)),
                           ("queues", ("list_queues", "-p", p.vhost, "name", "type", "durable", "pid", "leader",
                                       "consumers", "messages", "messages_unacknowledged")),
                           ("bindings", ("list_bindings", "-p", p.vhost)),
                           ("channels", ("list_channels", "connection", "user", "consumer_count",
                                         "messages_unacknowledged", "confirm", "prefetch_count"))):
            done = cluster.ctl(other, *args, check=False)
            (folder / f"{other}-{name}.txt").write_text(done.stdout + done.stderr)
        for round_ in range(2):  # the channels' quorum queue clients, twice: do they move?
            done = cluster.ctl(other, "eval", CHANNEL_STATES, check=False)
            (folder / f"{other}-channel-states-{round_}.txt").write_text(done.stdout + done.stderr)
            time.sleep(5)
        for queue in ("rpc-identity", "rpc-enterprise", "rpc-authz"):
            done = cluster.ctl(other, "quorum_status", "-p", p.vhost, queue, tool="rabbitmq-queues", check=False)
            (folder / f"{other}-quorum-{queue}.txt").write_text(done.stdout + done.stderr)
    for log in Path(p.var, "logs").glob("*.log"):
        (folder / log.name).write_text(log.read_text(errors="replace"))


@pytest.mark.skipif(not os.environ.get("EPORT_CLUSTER_KILLS"), reason="a reproduction, run by hand")
def test_kills(kills=None, folder="/tmp/cluster-stall"):
    kills = os.environ["EPORT_CLUSTER_KILLS"]  # a number: the gateway's node each time; or letters, e.g. abcabc
    kills = [None] * int(kills) if kills.isdigit() else list(kills)
    results = []
    with RabbitCluster() as cluster, launched(cluster=cluster, env={"EPORT_QUEUE_TYPE": "quorum"}) as p:
        load = under_load(p, users=3)
        try:
            for n, letter in enumerate(kills):
                held = gateway_node(cluster)
                letter = letter or max(held, key=held.get)
                before = load.acknowledged()
                began = time.monotonic()
                cluster.kill(letter)
                try:
                    wait_for(lambda b=before: load.acknowledged() >= b + 3, STALL, "load going on")
                    stalled = False
                except AssertionError:
                    stalled = True
                    print(f"kill {n} of {letter}: STALL ({load.summary()})", flush=True)
                    evidence(cluster, p, letter, Path(folder, f"kill-{n}-{letter}"))
                took = time.monotonic() - began
                time.sleep(max(0.0, began + DOWN - time.monotonic()))
                cluster.start(letter)
                if stalled:  # how long it lasts with the node back
                    try:
                        wait_for(lambda b=before: load.acknowledged() >= b + 3, 120, "load going on, node back")
                        print(f"  ... ended {time.monotonic() - began:.0f} s after the kill", flush=True)
                    except AssertionError:
                        print("  ... still stalled 120 s after the node came back", flush=True)
                        results.append((letter, held, stalled, took))
                        break
                results.append((letter, held, stalled, took))
                print(f"kill {n} of {letter} (gateway held {held}): stalled={stalled} {took:.1f}s; "
                      f"{load.summary()}", flush=True)
                time.sleep(5)
        finally:
            load.stop()
        print(f"{sum(r[2] for r in results)} stalls in {len(results)} kills; {load.summary()}")
        load.verify(p.var)
        print("verified")


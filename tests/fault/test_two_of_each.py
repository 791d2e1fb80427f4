"""Two instances of every service on PostgreSQL (issue 25, item 2), under steady load: kill -9 of
one instance of each service in turn, the launcher's supervision starting it again. The proof of
tests/fault/load.py: every acknowledged story is stored (logins, /me), every consumer effect
happened once (one inbox message per application, authz learnt each administrator once, each
event in the audit log once), no answer was a 500; and the 503s are counted.

Both instances of a publisher run a relay, one of them holding the lease (a PostgreSQL advisory
lock, services/common/positions.py) and publishing; the other takes over when the holder dies: of
each publisher the test kills the lease's holder (found in pg_locks), of the others the first
instance or the second in turn.
Both audit instances record into the one log in audit's database (an advisory lock a write). The
two gateways listen on ports of their own, each with half of the virtual users: a gateway killed
is its users' "no answer" until it is back (a balancer in front would send them to the other).
"""
import os
import re
import signal
import subprocess
import time
import uuid

import psycopg2
import pytest

from deploy.launch import SERVICES
from services.common.deployment import PUBLISHERS

from .conftest import launched, wait_for
from .load import Load
from .restarts import drop_databases
from tests.support import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def relay_leader(platform, database, service):
    """The process (`<service>` or `<service>#2`) holding `service`'s relay lease: the advisory lock's
    session in pg_locks, its client port, the local process with that socket (ss)."""
    with psycopg2.connect(f"postgresql://postgres@localhost:5432/{database}") as db, db.cursor() as cur:
        cur.execute("SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                    "AND l.objid = (hashtext(%s)::bigint & 4294967295)::oid", (f"relay:{service}->amqp",))
        (port,), = cur.fetchall()
    out = subprocess.run(["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True, timeout=10).stdout
    pid = int(re.search(r"pid=(\d+)", out).group(1))
    return next(name for name, proc in platform.platform.procs.items() if proc.pid == pid)


def _leader_now(platform, database, service):
    def held():
        try:
            return relay_leader(platform, database, service)
        except (ValueError, StopIteration, AttributeError):  # between two holders
            return None
    return wait_for(held, 30, f"{service}'s relay lease held")


def unavailable(loads):
    return sum(n for load in loads for (_, status), n in load.statuses.items() if status in (502, 503, 504))


def acknowledged(loads):
    return sum(load.acknowledged() for load in loads)


def test_kill_9_of_one_instance_of_each_service_under_load():
    prefix = f"eport_two_{uuid.uuid4().hex[:8]}"
    env = {"EVENT_STORE": "postgres",
           "EVENT_STORE_URL": f"postgresql+psycopg2://postgres@localhost:5432/{prefix}_{{service}}"}
    second_gateway = free_port()
    try:
        with launched(env=env, instances=dict.fromkeys(SERVICES, 2),
                      instance_env={"gateway#2": {"GATEWAY_PORT": str(second_gateway)}}) as p:
            loads = [Load(p.api.base, users=2).start(), Load(f"http://127.0.0.1:{second_gateway}", users=2).start()]
            for load in loads:
                wait_for(lambda load=load: load.acknowledged() >= 1, 120, "load under way on both gateways")
            kills = []
            for n, service in enumerate(SERVICES):
                victim = relay_leader(p, f"{prefix}_{service}", service) if service in PUBLISHERS else \
                    service if n % 2 == 0 else f"{service}#2"  # the first instance, or the second
                pid, before, refused = p.pid(victim), acknowledged(loads), unavailable(loads)
                started = time.monotonic()
                os.kill(pid, signal.SIGKILL)
                wait_for(lambda victim=victim, pid=pid: p.pid(victim) != pid, 30, f"{victim} restarted")
                wait_for(lambda before=before: acknowledged(loads) >= before + 2, 120,
                         f"load going on after the kill of {victim}")
                kills.append((victim, acknowledged(loads) - before, unavailable(loads) - refused,
                              round(time.monotonic() - started, 1)))
                if service in PUBLISHERS:  # the other instance took the lease (the restarted one waits)
                    assert _leader_now(p, f"{prefix}_{service}", service) != victim, f"{service}'s lease"
            for load in loads:
                load.stop()
            for load in loads:
                load.verify(p.var, audit_url=f"postgresql://postgres@localhost:5432/{prefix}_audit")
            assert sorted(p.restarts) == sorted(victim for victim, *_ in kills)
            print(f"two of each, kill -9 of one instance of each: {acknowledged(loads)} stories acknowledged, "
                  f"none lost; {unavailable(loads)} answers 502/503/504 in all")
            for victim, stories, refusals, seconds in kills:
                print(f"  {victim}: {stories} stories acknowledged, {refusals} answers 503 until the next "
                      f"two stories ({seconds} s)")
            for load in loads:
                print(f"  load: {load.summary()}")
    finally:
        drop_databases(prefix)

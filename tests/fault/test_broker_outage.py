"""A broker outage costs at most 503s while it lasts and no process exit, with nobody restarting
anything: the platform's link to RabbitMQ is cut for 6 s under load (tests/fault/broker_link.py, so
the shared broker is untouched), then restored; every service reconnects by itself. (Most requests
caught by the outage wait it out: publishers retry, and a service retries a request whose work met
the outage, services/common/rpc.py; the rest are 503.)"""
import time

import pytest

from .broker_link import BrokerLink
from .conftest import launched, wait_for
from .load import Load

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

OUTAGE = 6  # seconds


def test_every_service_outlives_a_broker_outage():
    link = BrokerLink()
    try:
        with launched(amqp_uri=link.uri) as p:
            p.supervising = False  # the launcher's restart must not be what saves them
            pids = {name: p.pid(name) for name in p.platform.procs}
            load = Load(p.api.base, users=3).start()
            wait_for(lambda: load.acknowledged() >= 2, 60, "load under way")
            before, connections = load.acknowledged(), link.accepted
            link.cut()
            time.sleep(OUTAGE)
            assert link.accepted == connections  # refused while it lasted
            link.open()
            wait_for(lambda: load.acknowledged() >= before + 4, 90, "load going on after the outage")
            assert link.accepted - connections >= len(pids), "not every process reconnected"
            load.stop()
            exited = {n: proc.returncode for n, proc in p.platform.procs.items() if proc.poll() is not None}
            assert not exited, f"exited during the outage: {exited}"
            assert {name: p.pid(name) for name in p.platform.procs} == pids
            load.verify(p.var)
            print(f"broker outage of {OUTAGE} s: {load.summary()}")
    finally:
        link.cut()

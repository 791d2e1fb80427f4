"""A broker outage costs 503s while it lasts and no process exit, with nobody restarting anything:
the platform's link to RabbitMQ is cut for 6 s under load (tests/fault/broker_link.py, so the shared
broker is untouched), then restored; every service reconnects by itself."""
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
            before = load.acknowledged()
            link.cut()
            time.sleep(OUTAGE)
            link.open()
            wait_for(lambda: load.acknowledged() >= before + 4, 90, "load going on after the outage")
            load.stop()
            exited = {n: proc.returncode for n, proc in p.platform.procs.items() if proc.poll() is not None}
            assert not exited, f"exited during the outage: {exited}"
            assert {name: p.pid(name) for name in p.platform.procs} == pids
            assert sum(n for (_, status), n in load.statuses.items() if status == 503) > 0, \
                f"the outage went unnoticed: {dict(load.statuses)}"
            load.verify(p.var)
            print(f"broker outage of {OUTAGE} s: {load.summary()}")
    finally:
        link.cut()

"""kill -9 of each process of the platform in turn, under steady load, the launcher's supervision
starting it again: acknowledged commands stay stored, consumers' effects happen once, no 500
(tests/fault/load.py proves the three)."""
import os
import signal

import pytest

from deploy.launch import SERVICES

from .conftest import launched, wait_for
from .load import Load

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_kill_9_of_each_service_in_turn_under_load():
    with launched() as p:
        load = Load(p.api.base, users=3).start()
        wait_for(lambda: load.acknowledged() >= 2, 60, "load under way")
        for name in SERVICES:
            pid = p.pid(name)
            before = load.acknowledged()
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda name=name, pid=pid: p.pid(name) != pid, 30, f"{name} restarted")
            wait_for(lambda before=before: load.acknowledged() > before, 90, f"load going on after the kill of {name}")
        load.stop()
        assert set(p.restarts) == set(SERVICES)
        load.verify(p.var)
        print(f"kill -9 of {', '.join(SERVICES)}: {load.summary()}")

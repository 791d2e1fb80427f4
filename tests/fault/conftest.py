"""A platform of the fault tests' own: its own vhost, var/ and port, supervised like `make run`
(a service that exits is started again), so a test may kill its processes, or its broker link."""
import os
import shutil
import tempfile
import threading
from contextlib import contextmanager
from functools import partial

import pytest

from deploy.launch import Platform
from tests.conftest import create_vhost, delete_vhost, vhost_uri
from tests import support
from tests.e2e.conftest import Api


class Supervised:
    def __init__(self, platform, var):
        self.platform, self.var = platform, var
        self.api = Api(platform.base_url)
        self.restarts = []
        self.supervising = True
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._supervise, daemon=True)
        self._thread.start()

    def _supervise(self):
        while not self._stop.wait(0.2):
            if self.supervising:
                self.restarts += self.platform.restart_exited()

    def pid(self, name):
        return self.platform.procs[name].pid

    def alive(self, name):
        return self.platform.procs[name].poll() is None

    def wait_healthy(self, timeout=60):
        self.platform.wait_healthy(timeout)

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.platform.stop()


@contextmanager
def launched(only=None, env=None, amqp_uri=None, **options):
    """`options`: the Platform's own (instances=, instance_env=: several instances of a service)."""
    var = tempfile.mkdtemp(prefix="eport-fault-var-")
    vhost = create_vhost("eport-fault")
    base = {"GATEWAY_PORT": str(support.free_port()), "GATEWAY_HOST": "127.0.0.1", "LOG_LEVEL": "WARNING",
            "EPORT_VAR": var, "SMS_OUTBOX": os.path.join(var, "sms-outbox.jsonl"),
            "AMQP_URI": amqp_uri(vhost) if amqp_uri else vhost_uri(vhost)}
    platform = Platform(env=dict(base, **(env or {})), only=only, log_dir=os.path.join(var, "logs"), quiet=True,
                        **options)
    old_outbox = os.environ.get("SMS_OUTBOX")
    os.environ["SMS_OUTBOX"] = base["SMS_OUTBOX"]  # tests/sms.py reads this platform's SMS
    try:
        platform.start(timeout=120)
        supervised = Supervised(platform, var)
        try:
            yield supervised
        finally:
            supervised.close()
    finally:
        platform.stop()
        os.environ["SMS_OUTBOX"] = old_outbox or ""
        delete_vhost(vhost)
        keep = os.path.join(tempfile.gettempdir(), "eport-fault-logs")  # the last run's, to read after a failure
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(os.path.join(var, "logs"), keep, dirs_exist_ok=True)
        shutil.rmtree(var, ignore_errors=True)


wait_for = partial(support.wait_for, interval=0.2)  # (check, timeout, what): processes under load, polled gently


@pytest.fixture
def platform_factory():
    return launched

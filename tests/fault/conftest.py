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
from tests import rabbit_cluster as rabbit_cluster_module
from tests import support
from tests.sms import phone_of
from tests.e2e.conftest import Api

from .load import Load


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

    @contextmanager
    def unsupervised(self):
        """No restarts while it lasts (the launcher's must not be what saves a service), and no
        process may exit or be replaced meanwhile: an exit fails the test."""
        self.supervising = False
        try:
            pids = {name: self.pid(name) for name in self.platform.procs}
            yield pids
            exited = {n: proc.returncode for n, proc in self.platform.procs.items() if proc.poll() is not None}
            assert not exited, f"exited: {exited}"
            assert {name: self.pid(name) for name in self.platform.procs} == pids
        finally:
            self.supervising = True

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.platform.stop()


@contextmanager
def launched(only=None, env=None, amqp_uri=None, cluster=None, **options):
    """The platform on the machine's RabbitMQ (through `amqp_uri(vhost)` when given), or on a
    `cluster` (tests/rabbit_cluster.py), every service as its own broker user there. `options`: the
    Platform's own (instances=, instance_env=: several instances of a service)."""
    var = tempfile.mkdtemp(prefix="eport-fault-var-")
    vhost = cluster.add_vhost("eport-fault") if cluster else create_vhost("eport-fault")
    if cluster:
        uri, broker_uris = cluster.uri(vhost), cluster.users(vhost)
    else:
        uri, broker_uris = amqp_uri(vhost) if amqp_uri else vhost_uri(vhost), None
    base = {"GATEWAY_PORT": str(support.free_port()), "GATEWAY_HOST": "127.0.0.1", "LOG_LEVEL": "WARNING",
            "EPORT_VAR": var, "SMS_OUTBOX": os.path.join(var, "sms-outbox.jsonl"), "AMQP_URI": uri}
    platform = Platform(env=dict(base, **(env or {})), only=only, log_dir=os.path.join(var, "logs"), quiet=True,
                        broker_uris=broker_uris, **options)
    try:
        with phone_of(platform.env):  # tests/sms.py reads this platform's SMS
            platform.start(timeout=120)
            supervised = Supervised(platform, var)
            supervised.vhost = vhost
            try:
                yield supervised
            finally:
                supervised.close()
    finally:
        platform.stop()
        if not cluster:  # a cluster goes with its vhosts
            delete_vhost(vhost)
        keep = os.path.join(tempfile.gettempdir(), "eport-fault-logs")  # the last run's, to read after a failure
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(os.path.join(var, "logs"), keep, dirs_exist_ok=True)
        shutil.rmtree(var, ignore_errors=True)


wait_for = partial(support.wait_for, interval=0.2)  # (check, timeout, what): processes under load, polled gently


def under_load(p, users=3):
    """tests/fault/load.py's load on platform `p`, once it acknowledged a first story."""
    load = Load(p.api.base, users=users).start()
    wait_for(lambda: load.acknowledged() >= 1, 60, "load under way")
    return load


@pytest.fixture
def platform_factory():
    return launched


@pytest.fixture(scope="module")
def rabbit_cluster():
    """Three RabbitMQ nodes of this module's own, joined (tests/rabbit_cluster.py), gone after it."""
    if not rabbit_cluster_module.available():
        pytest.skip("needs the Debian rabbitmq-server (/usr/lib/rabbitmq/bin)")
    with rabbit_cluster_module.RabbitCluster() as cluster:
        yield cluster

"""The platform started as the README says, as a new user would: `python -m deploy.launch` (what
`make run` runs) in a process of its own, with EVENT_STORE=postgres, on a vhost, a var/ and
databases of its own; then more instances beside it, each with `python -m deploy.launch --only
<service>` (README, "Scale-out"). Every launcher's output, its services' included, goes to a log of
its own under var/, which a test reads for the broker's refusals."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

from deploy import broker
from tests.support import create_vhost, delete_vhost, free_port, rabbitmqctl, vhost_uri, wait_for

from .restarts import drop_databases

ROOT = Path(__file__).resolve().parents[2]


class ReadmePlatform:
    def __init__(self):
        self.var = Path(tempfile.mkdtemp(prefix="eport-readme-var-"))
        self.vhost = create_vhost("eport-readme", exchanges=False)  # the launcher's broker setup declares them
        self.namespace = broker.namespace_for(vhost_uri(self.vhost))
        self.prefix = f"eport_readme_{uuid.uuid4().hex[:8]}"
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.env = dict(os.environ, EPORT_ENV="development", EPORT_VAR=str(self.var), LOG_LEVEL="WARNING",
                        AMQP_URI=vhost_uri(self.vhost), GATEWAY_PORT=str(port), GATEWAY_HOST="127.0.0.1",
                        EPORT_ISSUER=self.base, SMS_OUTBOX=str(self.var / "sms-outbox.jsonl"),
                        EVENT_STORE="postgres",
                        EVENT_STORE_URL=f"postgresql+psycopg2://postgres@localhost:5432/{self.prefix}_{{service}}")
        self.launchers = []

    def launch(self, *args):
        """`python -m deploy.launch *args` in the background; its log's path."""
        log = self.var / f"launch-{len(self.launchers) + 1}.log"
        with open(log, "ab") as out:
            self.launchers.append(subprocess.Popen([sys.executable, "-m", "deploy.launch", *args], cwd=ROOT,
                                                   env=self.env, stdout=out, stderr=subprocess.STDOUT))
        return log

    def healthy(self, timeout=120):
        def up():
            try:
                return requests.get(self.base + "/healthz", timeout=5).status_code == 200
            except requests.RequestException:
                return False
        wait_for(up, timeout, "the platform's /healthz", interval=0.5)

    def consumers(self, queue):
        """How many consumers `queue` of this vhost has (one per instance of a service)."""
        out = subprocess.run(["rabbitmqctl", "list_queues", "-p", self.vhost, "name", "consumers", "-q",
                              "--no-table-headers"], capture_output=True, text=True, timeout=60).stdout
        counts = dict(line.split() for line in out.splitlines() if line.strip())
        return int(counts.get(queue, 0))

    def close_connections(self, user=None):
        """The broker closes every connection of this vhost (or of one of its users): each process
        must log in again."""
        if user:
            rabbitmqctl("close_all_user_connections", user, "a test makes every process log in again")
        else:
            rabbitmqctl("close_all_connections", "-p", self.vhost, "a test makes every process log in again")

    def user(self, role):
        return broker.user_name(self.namespace, role)

    def logs(self):
        return "".join(path.read_text(errors="replace") for path in sorted(self.var.glob("launch-*.log")))

    def stop(self):
        for proc in self.launchers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.launchers:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        keep = Path(tempfile.gettempdir()) / "eport-readme-logs"  # the last run's, to read after a failure
        shutil.rmtree(keep, ignore_errors=True)
        keep.mkdir()
        for path in self.var.glob("launch-*.log"):
            shutil.copy(path, keep)
        try:
            broker.remove(self.namespace)
        except broker.BrokerSetupFailed:
            pass
        delete_vhost(self.vhost)
        drop_databases(self.prefix)
        shutil.rmtree(self.var, ignore_errors=True)

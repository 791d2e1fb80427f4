"""Restarting the machine's shared RabbitMQ or PostgreSQL, for the fault tests only.

Other test runs share both: a restart happens under `flock -o /tmp/eport-broker.lock` (one at a time,
machine-wide), as briefly as it can be, and waits until the server answers again. A run that holds
the lock exclusively already (`EPORT_BROKER_LOCKED=1 flock -x /tmp/eport-broker.lock pytest ...`,
so that no other run starts meanwhile) says so, and the restart does not wait for itself.
"""
import os
import subprocess

from tests.support import drop_databases  # noqa: F401 (the fault suites import it from here)

LOCK = "/tmp/eport-broker.lock"
PG_ADMIN = "postgresql://postgres@localhost:5432/postgres"


def _locked(script, timeout):
    lock = [] if os.environ.get("EPORT_BROKER_LOCKED") == "1" else ["flock", "-o", "-w", str(timeout), LOCK]
    done = subprocess.run([*lock, "sh", "-c", script], timeout=timeout * 2, capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"{script}: exit {done.returncode}: {done.stdout} {done.stderr}")


def restart_broker(timeout=120):
    _locked("rabbitmqctl stop_app && rabbitmqctl start_app && rabbitmqctl await_startup", timeout)


def restart_postgres(timeout=120):
    _locked("pg_ctlcluster 15 main restart -m fast && pg_isready -t 30", timeout)

"""What a service process loads, for its memory (docs/PERFORMANCE.md, "Footprint"): on SQLite no
SQLAlchemy (9 MiB a process; psycopg2 comes with eventlet's monkey_patch all the same), and no
eventlet green DNS resolver (7.5 MiB) unless the service calls hosts by name over HTTP
(deploy/launch.py GREEN_DNS_SERVICES); the drivers' errors still count as a store outage once a
PostgreSQL store loaded them (services/common/outages.py)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.launch import GREEN_DNS_SERVICES, SERVICES, service_env
from services.common.outages import outages, store_errors

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
# what `nameko run` does before it imports the service's module
LOADED = """import json, sys, importlib
import eventlet
eventlet.monkey_patch()
for module in sys.argv[1:]:
    importlib.import_module(module)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def loaded_packages(service):
    env = {k: v for k, v in os.environ.items() if k not in ("EVENTLET_NO_GREENDNS", "EVENT_STORE")}
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", LOADED, SERVICES[service].split(":")[0]],
                          cwd=ROOT, env=service_env(env, service), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


@pytest.mark.parametrize("service", ["identity", "notify"])
def test_a_service_on_sqlite_loads_no_sqlalchemy_and_green_dns_only_where_it_calls_hosts(service):
    packages = loaded_packages(service)
    assert "sqlalchemy" not in packages
    assert ("dns" in packages) == (service in GREEN_DNS_SERVICES)


def test_every_service_but_those_calling_hosts_by_name_goes_without_green_dns():
    for service in SERVICES:
        env = service_env({}, service)
        assert (env.get("EVENTLET_NO_GREENDNS") == "yes") == (service not in GREEN_DNS_SERVICES), service
    assert service_env({"EVENTLET_NO_GREENDNS": "no"}, "identity")["EVENTLET_NO_GREENDNS"] == "no"  # set: kept


def test_a_postgres_drivers_errors_are_a_store_outage_once_loaded():
    import psycopg2
    import sqlalchemy.exc
    for error in (psycopg2.OperationalError, psycopg2.InterfaceError, sqlalchemy.exc.OperationalError,
                  sqlalchemy.exc.InterfaceError):
        assert error in store_errors() and error in outages()

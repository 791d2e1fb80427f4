"""The shared servers restarted under load (tests/fault/restarts.py): RabbitMQ, and PostgreSQL
with EVENT_STORE=postgres. The platform reconnects without losing an acknowledged command,
repeating a consumer's effect, or answering 500 (tests/fault/load.py proves the three)."""
import uuid

import pytest

from .conftest import launched, wait_for
from .load import Load
from .restarts import drop_databases, restart_broker, restart_postgres

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def under_load(p, restart, what):
    load = Load(p.api.base, users=3).start()
    wait_for(lambda: load.acknowledged() >= 2, 90, "load under way")
    before = load.acknowledged()
    restart()
    wait_for(lambda: load.acknowledged() >= before + 3, 120, f"load going on after the {what} restart")
    load.stop()
    load.verify(p.var)
    print(f"{what} restart: {load.summary()}; restarted by the launcher: {p.restarts or 'none'}")


def test_a_broker_restart_under_load():
    with launched() as p:
        under_load(p, restart_broker, "RabbitMQ")


def test_a_postgres_restart_under_load():
    prefix = f"eport_fault_{uuid.uuid4().hex[:8]}"
    env = {"EVENT_STORE": "postgres",
           "EVENT_STORE_URL": f"postgresql+psycopg2://postgres@localhost:5432/{prefix}_{{service}}"}
    try:
        with launched(env=env) as p:
            under_load(p, restart_postgres, "PostgreSQL")
    finally:
        drop_databases(prefix)

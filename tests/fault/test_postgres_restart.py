"""The shared PostgreSQL restarted under load (tests/fault/restarts.py) with EVENT_STORE=postgres:
the platform reconnects without losing an acknowledged command, repeating a consumer's effect, or
answering 500 (tests/fault/load.py proves the three); no service exits. (RabbitMQ's restart:
tests/fault/test_broker_and_kills.py.)"""
import uuid

import pytest

from .conftest import launched, wait_for
from .load import Load
from .restarts import drop_databases, restart_postgres

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_postgres_restart_under_load():
    prefix = f"eport_fault_{uuid.uuid4().hex[:8]}"
    env = {"EVENT_STORE": "postgres",
           "EVENT_STORE_URL": f"postgresql+psycopg2://postgres@localhost:5432/{prefix}_{{service}}"}
    try:
        with launched(env=env) as p:
            load = Load(p.api.base, users=3).start()
            wait_for(lambda: load.acknowledged() >= 1, 90, "load under way")
            before = load.acknowledged()
            restart_postgres()
            wait_for(lambda: load.acknowledged() >= before + 2, 120, "load going on after the PostgreSQL restart")
            load.stop()
            load.verify(p.var, audit_url=f"postgresql://postgres@localhost:5432/{prefix}_audit")
            assert p.restarts == [], "a service died with the database"
            print(f"PostgreSQL restart: {load.summary()}")
    finally:
        drop_databases(prefix)

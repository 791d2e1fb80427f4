"""Each service's PostgreSQL role (deploy/store_secrets.py) on the real PostgreSQL of this machine,
in a namespace of the test's own (roles and databases eport_test_<random>_<service>, dropped after):
a service's role keeps its event store in its own database, and cannot open another's, nor make
databases or roles."""
import uuid

import psycopg2
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from deploy.store_secrets import STORES, generate, role_name, role_statements

pytestmark = pytest.mark.integration
ADMIN = "postgresql://postgres@localhost:5432/postgres"


@pytest.fixture
def roles():
    prefix = f"eport_test_{uuid.uuid4().hex[:8]}"
    passwords = {service: uuid.uuid4().hex for service in ("identity", "authz")}
    admin = psycopg2.connect(ADMIN)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            for service, password in passwords.items():
                for statement in role_statements(service, password, prefix):
                    cur.execute(statement)
        yield {service: f"postgresql://{role_name(service, prefix)}:{password}@localhost:5432/"
                        f"{role_name(service, prefix)}" for service, password in passwords.items()}
    finally:
        with admin.cursor() as cur:
            for service in passwords:
                name = role_name(service, prefix)
                cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
                cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
                cur.execute(f'DROP ROLE IF EXISTS "{name}"')
        admin.close()


def as_role(url, database=None):
    if database:
        url = url.rsplit("/", 1)[0] + "/" + database
    return psycopg2.connect(url)


def test_a_service_keeps_its_event_store_in_its_own_database_as_its_own_role(roles, monkeypatch, tmp_path):
    monkeypatch.setenv("EPORT_ENV", "development")
    monkeypatch.setenv("EPORT_VAR", str(tmp_path))
    monkeypatch.setenv("EVENT_STORE", "postgres")
    monkeypatch.setenv("EVENT_STORE_URL", roles["identity"].replace("postgresql://", "postgresql+psycopg2://"))
    from services.common.bootstrap import event_store_env
    app = Application(env=event_store_env("identity"))  # ensure_database finds it, the tables are made
    aggregate = Aggregate()
    app.save(aggregate)
    assert app.repository.get(aggregate.id).id == aggregate.id
    app.close()


def test_a_services_role_cannot_open_another_services_database(roles):
    own = as_role(roles["identity"])
    with own, own.cursor() as cur:
        cur.execute("CREATE TABLE secrets_of_identity (x text)")
        cur.execute("INSERT INTO secrets_of_identity VALUES ('mine')")
    own.close()
    authz_db = roles["authz"].rsplit("/", 1)[1]
    identity_db = roles["identity"].rsplit("/", 1)[1]
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        as_role(roles["authz"], identity_db)
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        as_role(roles["identity"], authz_db)


def test_a_services_role_makes_neither_databases_nor_roles(roles):
    own = as_role(roles["identity"])
    own.autocommit = True
    with own.cursor() as cur:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute(f'CREATE DATABASE "x{uuid.uuid4().hex[:8]}"')
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute(f'CREATE ROLE "x{uuid.uuid4().hex[:8]}"')
        cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cur.fetchone() == (False,)
    own.close()


def test_generate_writes_a_key_and_a_url_per_store_and_the_init_script(tmp_path):
    out = generate(tmp_path / "stores", host="db")
    envs = {p.stem: dict(line.split("=", 1) for line in p.read_text().splitlines()) for p in out.glob("*.env")}
    assert set(envs) == set(STORES) >= {"notify", "identity", "enterprise", "card", "authz", "audit"}
    assert "gateway" not in envs  # it keeps no store
    assert len({env["EPORT_CIPHER_KEY"] for env in envs.values()}) == len(STORES)  # a key of its own each
    assert envs["card"]["EVENT_STORE_URL"].startswith("postgresql+psycopg2://eport_card:")
    assert envs["card"]["EVENT_STORE_URL"].endswith("@db:5432/eport_card")
    script = (out / "init.sql").read_text()
    assert script.count("CREATE ROLE") == len(STORES) and 'REVOKE ALL ON DATABASE "eport_audit" FROM PUBLIC;' in script
    assert all(oct(p.stat().st_mode)[-3:] == "600" for p in out.iterdir())

"""The proof of erasure (issue 24 item 6; shared/API.md "Personal data"): a canary person with unique
values (a name of rare characters, an ID number, a mobile, a card of the development CA, an
association, grants, logins of every kind, inbox messages, an export) and a neighbour in the same
enterprise. var/ is copied (the per-person keys apart, as their backups are) and, on PostgreSQL, every
database dumped, before the canary erases their data. After it, with the operator's keys, nothing of
the canary is found anywhere the platform keeps data (tests/e2e/erasure_search.py), live or in the
copies; the neighbour's data still reads; `eport rebuild` and `eport replay` still work; the canary
cannot log in, and their ID number and mobile register again. On SQLite and on PostgreSQL."""
import os
import shutil
import tempfile
import time
import uuid
from contextlib import contextmanager

import amqp
import psycopg2
import pytest

from deploy import broker
from deploy.launch import Platform
from tests.e2e.conftest import Api
from tests.e2e.erasure_search import (Keys, Leaks, certificate_piece, needles, pg_dump, pg_restore, postgres_leaks,
                                      queue_leaks, var_leaks)
from tests.e2e.personal_data_steps import (export, member_with_everything, neighbour_and_enterprise,
                                           personal_code, rare_name)
from tests.eport_cli import eport, json_lines
from tests.sms import latest_code
from tests.support import create_vhost, delete_vhost, drop_databases, free_port, vhost_uri, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]
SERVICES = ("identity", "enterprise", "card", "authz", "notify", "audit", "sso")


@contextmanager
def launched(env, monkeypatch):
    """The platform on a var/ and a vhost of its own (as tests/e2e/conftest.py's, with `env`)."""
    var = tempfile.mkdtemp(prefix="eport-erasure-var-")
    vhost = create_vhost("eport-erasure", exchanges=False)
    port = free_port()
    base = {"GATEWAY_PORT": str(port), "GATEWAY_HOST": "127.0.0.1", "LOG_LEVEL": "WARNING", "EPORT_VAR": var,
            "SMS_OUTBOX": os.path.join(var, "sms-outbox.jsonl"), "EPORT_ISSUER": f"http://127.0.0.1:{port}",
            "AMQP_URI": vhost_uri(vhost)}
    for name in ("EPORT_VAR", "SMS_OUTBOX"):  # the steps read the outbox and the CA where this platform keeps them
        monkeypatch.setenv(name, base[name])
    broker_uris = broker.setup(base["AMQP_URI"], namespace=vhost)
    platform = Platform(env=dict(base, **env), broker_uris=broker_uris, log_dir=os.path.join(var, "logs"), quiet=True)
    platform.vhost, platform.var = vhost, var
    try:
        platform.start(timeout=180)
        yield platform
    finally:
        platform.stop()
        broker.remove(namespace=vhost)
        delete_vhost(vhost)
        shutil.rmtree(var, ignore_errors=True)


def databases(prefix):
    conn = psycopg2.connect(dbname="postgres", user="postgres", host="localhost")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY 1", (prefix + "%",))
            return [r[0] for r in cur.fetchall()]
    finally:
        conn.close()


def operator_of(platform):
    return (platform.broker_uris or {}).get("operator", platform.env["AMQP_URI"])


def erase(api, person, operator):
    r = api.post("/api/v1/me/erasure", token=person.token, json={"sms_code": personal_code(api, person)})
    assert r.status_code == 202, r.text
    erasure_id = r.json()["erasure_id"]

    def done():
        rows = json_lines(eport("erasures", "list", "--json", amqp_uri=operator))
        row = next((r for r in rows if r["erasure_id"] == erasure_id), None)
        return row if row and row["status"] == "done" else None

    return wait_for(done, timeout=120, interval=1)


def canary_values(canary):
    person = canary.person
    return {"name": person.name, "id_number": person.id_number, "mobile": person.mobile, "card_no": canary.card_no,
            "cert_sha256": canary.cert_sha256, "certificate": certificate_piece(canary.certificate_pem)}


def rebuilt(read_model, operator):
    """Whether `eport rebuild` of `read_model` finished (and succeeded: else the test fails) in 120 s."""
    try:
        eport("rebuild", read_model, amqp_uri=operator, timeout=120)
    except Exception as exc:  # noqa: BLE001 (eventlet's green subprocess has a TimeoutExpired of its own)
        if type(exc).__name__ != "TimeoutExpired":
            raise
        return False
    return True


def replay_still_works(platform, operator):
    queue = f"erasure-replay-{uuid.uuid4().hex[:8]}"
    with amqp.Connection(host="127.0.0.1:5672", userid="guest", password="guest", virtual_host=platform.vhost) as c:
        channel = c.channel()
        channel.queue_declare(queue, durable=False, auto_delete=False)
        eport("replay", "identity", "--to-queue", queue, amqp_uri=operator)
        _, count, _ = channel.queue_declare(queue, passive=True)
        channel.queue_delete(queue)
    return count


def the_proof(env, monkeypatch, tmp_path):
    prefix = env.get("EVENT_STORE_URL", "").rsplit("/", 1)[-1].replace("_{service}", "")
    with launched(env, monkeypatch) as platform:
        api, operator = Api(platform.base_url), operator_of(platform)
        neighbour = neighbour_and_enterprise(api)
        canary = member_with_everything(api, neighbour, name=rare_name())
        assert export(api, canary.person).status_code == 200
        time.sleep(2)  # the last events reach every consumer (audit, inbox)
        before = tmp_path / "var-before"
        shutil.copytree(platform.var, before, ignore=shutil.ignore_patterns("keys"))  # the keys are backed up apart
        dumps = []
        for database in databases(prefix) if prefix else []:
            dumps.append((database, tmp_path / f"{database}.sql"))
            pg_dump(database, dumps[-1][1])

        # from another device: the export's code is under a minute old (a cooldown per mobile and address)
        device = api.from_source("127.0.8.1")
        erase(device, canary.person, operator)
        time.sleep(2)  # what the confirmation raced (a broadcast queue's forget) has happened

        found = needles(canary_values(canary))
        keys = Keys(platform.var)
        leaks = var_leaks(platform.var, keys, found) + var_leaks(before, keys, found)
        leaks += queue_leaks(platform.vhost, found)
        for database in databases(prefix) if prefix else []:
            leaks += postgres_leaks(database, keys, found)
        for database, dump in dumps:
            restored = f"{prefix}_restored_{database[len(prefix) + 1:]}"
            pg_restore(dump, restored)
            leaks += postgres_leaks(restored, keys, found)
            leaks += [f"{dump.name}: {label}" for label, needle in found if needle in dump.read_bytes()]

        # the neighbour's data still reads
        me = api.get("/api/v1/me", token=neighbour.person.token)
        assert me.status_code == 200 and me.json()["name"] == neighbour.person.name, me.text
        trail = api.get(f"/api/v1/enterprises/{neighbour.enterprise_id}/audit-events", token=neighbour.person.token)
        assert trail.status_code == 200 and trail.json()["items"], trail.text

        # the canary is gone: no login; their ID number and mobile register again
        person = canary.person
        r = api.post("/api/v1/sessions", json={"method": "password", "account": person.mobile,
                                               "password": "Eport#2024-enterprise"})
        assert r.status_code == 401, r.text
        r = device.post("/api/v1/sms-codes", json={"mobile": person.mobile, "purpose": "register"})  # (as above)
        assert r.status_code == 202, r.text
        r = device.post("/api/v1/users", json={"name": "重新注册", "id_number": person.id_number,
                                               "mobile": person.mobile,
                                               "sms_code": latest_code(person.mobile, "register")})
        assert r.status_code == 201, r.text  # the ID number and the mobile are free again

        # the operators' tools still work on the stores with an erased person in them
        assert replay_still_works(platform, operator) > 0
        unfinished = [f"tool: eport rebuild {m} did not finish in 120 s" for m in ("inbox", "authz", "audit-log")
                      if not rebuilt(m, operator)]
        assert api.get("/api/v1/me", token=neighbour.person.token).status_code == 200
        assert not leaks + unfinished, Leaks(leaks + unfinished)


def test_nothing_of_an_erased_person_is_found_on_sqlite(monkeypatch, tmp_path):
    the_proof({"EVENT_STORE": "sqlite"}, monkeypatch, tmp_path)


def test_nothing_of_an_erased_person_is_found_on_postgres(monkeypatch, tmp_path):
    prefix = f"eport_erasure_{uuid.uuid4().hex[:8]}"
    try:
        the_proof({"EVENT_STORE": "postgres",
                   "EVENT_STORE_URL": f"postgresql+psycopg2://postgres@localhost:5432/{prefix}_{{service}}"},
                  monkeypatch, tmp_path)
    finally:
        drop_databases(prefix)

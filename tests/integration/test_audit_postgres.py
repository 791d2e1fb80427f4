"""The audit log on PostgreSQL (EVENT_STORE=postgres): two audit instances on one database, fed
from their shared queues with every event delivered twice, record each event once; each answers
the whole log, and a rebuild there swaps in what it rebuilt."""
import uuid

import eventlet
import pytest
from nameko.testing.services import entrypoint_hook

from services.audit.service import AuditLog, AuditService
from services.audit.store_postgres import PostgresAuditStore
from tests.integration.audit_fakes import ADMIN, ENTERPRISE, FakeEnterprise, approved
from tests.support import signing_publisher

pytestmark = pytest.mark.integration


@pytest.fixture
def on_postgres(monkeypatch, fresh_var):
    monkeypatch.setenv("EVENT_STORE", "postgres")
    monkeypatch.setenv("EVENT_STORE_URL",
                       f"postgresql+psycopg2://postgres@localhost:5432/eport_test_{uuid.uuid4().hex[:8]}")


def store_of(container):
    return next(d for d in container.dependencies if isinstance(d, AuditLog)).store


def whole_log(container):
    with entrypoint_hook(container, "events") as events:
        return events(enterprise_id=ENTERPRISE, limit=500)["items"]


def test_two_audit_instances_on_postgres_record_each_event_once(on_postgres, container_factory, config, amqp_uri):
    first, second = (container_factory(AuditService, config) for _ in range(2))
    container_factory(FakeEnterprise, config).start()
    first.start()
    second.start()
    assert isinstance(store_of(first), PostgresAuditStore)
    sent = [approved(str(uuid.uuid4()), 1, f"2026-11-01T08:{n:02d}:00+00:00") for n in range(30)]
    publisher = signing_publisher(amqp_uri, "enterprise")
    for envelope in sent + sent:  # every one delivered twice, to whichever instance takes it
        publisher.publish(envelope)
    with eventlet.Timeout(30):
        while len(whole_log(first)) < len(sent):
            eventlet.sleep(0.1)
    eventlet.sleep(0.5)  # the repeats too
    mine = {e["event_id"] for e in sent}
    for container in (first, second):
        items = [i for i in whole_log(container) if i["event_id"] in mine]
        assert sorted(i["event_id"] for i in items) == sorted(mine)  # each once, whichever asks
    counts = [store_of(c).count() for c in (first, second)]
    assert counts[0] == counts[1] >= len(sent)
    with entrypoint_hook(first, "enterprise_events") as trail:
        assert len(trail(ADMIN, ENTERPRISE, limit=200)["items"]) >= len(sent)  # a page holds 200 at most


def test_a_rebuild_on_postgres_replaces_the_live_log(on_postgres):
    from services.audit.store import open_store

    live = open_store()
    try:
        kept, lost = approved(str(uuid.uuid4()), 1), approved(str(uuid.uuid4()), 1)
        live.record_many([kept, lost])
        rebuilt = live.sibling()
        assert rebuilt.count() == 0 and live.count() == 2
        rebuilt.record_many([kept])
        with live.held():
            live.adopt(rebuilt)
        assert [i["event_id"] for i in live.query()] == [kept["event_id"]]
        assert live.record(lost) and live.count() == 2  # and it records on as before
    finally:
        live.close()


class _Reply:
    def __init__(self, page):
        self.page = page

    def result(self):
        return self.page


def history_fetch(history):
    """`ops_events` of one upstream over `history` (as services/common/operations.py fetches it)."""
    def fetch(source, after, limit, until=None):
        stop = len(history) if until is None else min(until, len(history))
        items = [{**e, "position": n} for n, e in enumerate(history, 1) if after < n <= stop][:limit]
        return {"items": items, "next": items[-1]["position"] if items else max(after, stop), "end": len(history)}

    fetch.ask = lambda *args: _Reply(fetch(*args))
    return fetch


@pytest.mark.timeout(60)
def test_an_audit_rebuild_on_postgres_ends_done(on_postgres):
    """Its last catch-up, under the live log's hold, writes the rebuilt schema: that must not wait
    for the hold (it did: the rebuilt store's transactions took the live log's advisory lock, so
    `eport rebuild audit-log` applied every event and then stayed "running")."""
    from services.audit.operations import operation_record
    from services.audit.rebuild import AuditRebuild
    from services.audit.store import open_store

    live = open_store()
    try:
        history = [approved(str(uuid.uuid4()), 1) for _ in range(5)]
        operator = operation_record("ops", "replay", "identity")
        live.record_many(history[:2] + [operator])
        rebuild = AuditRebuild(live, history_fetch(history), sources=("enterprise",), page=2)
        with eventlet.Timeout(20):
            progress = rebuild.run()
        assert progress["state"] == "done" and progress["applied"] == 5, progress
        assert {i["event_id"] for i in live.query(limit=100)} >= {e["event_id"] for e in history}
        assert live.count() == 6  # the operator's record kept
    finally:
        live.close()


def test_the_postgres_audit_log_reconnects_after_losing_its_connection(on_postgres):
    import psycopg2

    from services.audit.store import open_store

    live = open_store()
    try:
        first, second = approved(str(uuid.uuid4()), 1), approved(str(uuid.uuid4()), 1)
        assert live.record(first)
        pid = live._db.get_backend_pid()
        with psycopg2.connect(live._url) as admin, admin.cursor() as cur:  # as a database restart would
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(psycopg2.OperationalError):
            live.record(second)  # the consumer's message goes back to its queue
        assert live.record(second) and live.count() == 2  # its redelivery is recorded
    finally:
        live.close()

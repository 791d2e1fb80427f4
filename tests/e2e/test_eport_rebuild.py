"""`eport rebuild audit-log` while people register and join enterprises, compared afterwards with
an audit log that was never reset: one the test keeps itself, fed from a queue of its own that got
the whole history (`eport replay`) and every live event since."""
import json
import os
import sqlite3
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kombu import Connection, Queue
from kombu.exceptions import OperationalError

from contracts.subscriptions import exchange
from services.audit.rebuild import SOURCES
from services.audit.store import AuditStore
from tests.e2e.enterprise_people import apply, approve, register, register_enterprise, wait_for
from tests.eport_cli import EPORT, eport
from tests.support import http_error

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def rows(path):
    """event_id -> (type, subject, enterprise) and the membership intervals of an audit.db."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        events = {r[0]: r[1:] for r in db.execute(
            "SELECT event_id, event_type, subject, enterprise_id, occurred_at FROM audit_events")}
        memberships = set(db.execute("SELECT enterprise_id, user_id, since, until FROM memberships"))
    return events, memberships


class NeverReset:
    """An AuditStore of the test's, fed from its own queue bound to every source's exchange."""

    def __init__(self, broker, path):
        self.store, self.broker = AuditStore(path), broker
        self.queue = f"never-reset-{uuid.uuid4().hex[:8]}"
        self.received, self._stop = 0, threading.Event()
        with Connection(broker) as conn:
            channel = conn.channel()
            for source in SOURCES:
                Queue(self.queue, exchange=exchange(source), routing_key="#", durable=True,
                      auto_delete=False)(channel).declare()  # durable: a broker restart keeps it
        self._thread = threading.Thread(target=self._consume, daemon=True)

    def start(self):
        self._thread.start()

    def _consume(self):
        while not self._stop.is_set():
            try:
                self._consume_until_stopped()
            except (OSError, OperationalError):  # the broker went away (another engineer's restart): connect again
                time.sleep(0.5)

    def _consume_until_stopped(self):
        with Connection(self.broker) as conn:
            channel = conn.channel()
            q = Queue(self.queue, channel=channel, no_declare=True)
            while not self._stop.is_set():
                message = q.get(no_ack=False)
                if message is None:
                    time.sleep(0.02)
                    continue
                self.store.record(json.loads(message.body))
                self.received += 1
                message.ack()
            channel.queue_delete(self.queue)

    def depth(self):
        with Connection(self.broker) as conn:
            return conn.channel().queue_declare(self.queue, passive=True).message_count

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=10)
        self.store.close()


def damage(path):
    """The read model gone wrong: some events lost, one that no source ever published (of the sources'
    events: the operators' own records have no upstream to be rebuilt from, a rebuild keeps them)."""
    with sqlite3.connect(path, timeout=10) as db:
        lost = [r[0] for r in db.execute("SELECT event_id FROM audit_events WHERE source != 'eport'"
                                         " ORDER BY random() LIMIT 5")]
        db.executemany("DELETE FROM audit_events WHERE event_id = ?", [(e,) for e in lost])
        db.execute("INSERT INTO audit_events SELECT 'not-from-upstream', event_type, event_version, source,"
                   " occurred_at, aggregate_id, aggregate_version, actor_user_id, correlation_id, enterprise_id,"
                   " subject, payload, (SELECT MAX(seq) + 1 FROM audit_events) FROM audit_events"
                   " WHERE source != 'eport' LIMIT 1")
    return lost


def traffic(api, stop, going, made):
    """People register, register enterprises, apply and are approved, until told to stop."""
    while not stop.is_set():
        admin = register(api)
        going.set()
        member = register(api)
        eid, uscc = register_enterprise(api, admin)
        approve(api, admin, apply(api, member, uscc))
        made.append((datetime.now(UTC).isoformat(), admin, member, eid))


@contextmanager
def traffic_running(api):
    """`traffic` in a thread from before the block (its first registration done) to the block's end;
    the block gets the list of what it made: (time, admin, member, enterprise_id)."""
    stop, going, made = threading.Event(), threading.Event(), []
    worker = threading.Thread(target=traffic, args=(api, stop, going, made), daemon=True)
    worker.start()
    try:
        wait_for(going.is_set, timeout=30)
        yield made
    finally:
        stop.set()
        worker.join(timeout=60)


def test_a_rebuild_during_traffic_ends_equal_to_a_log_never_reset(api, platform, tmp_path):
    broker = platform.env["AMQP_URI"]
    operator = (platform.broker_uris or {}).get("operator", broker)
    register(api)  # some history before anything else
    reference = NeverReset(broker, tmp_path / "never-reset.db")
    with ThreadPoolExecutor(len(SOURCES)) as pool:  # the whole history first, then live events follow
        list(pool.map(lambda source: eport("replay", source, "--to-queue", reference.queue, amqp_uri=operator),
                      SOURCES))
    page = page_for(operator, SOURCES)
    reference.start()
    audit_db = Path(_env()["EPORT_VAR"]) / "audit.db"
    lost = damage(audit_db)
    with traffic_running(api) as made:
        began = datetime.now(UTC).isoformat()
        rebuild = subprocess.run([str(EPORT), "rebuild", "audit-log", "--page", str(page)], capture_output=True,
                                 text=True, timeout=300, env={**_env(), "AMQP_URI": operator})
        ended = datetime.now(UTC).isoformat()
        wait_for(lambda: len(made) >= 2 + sum(1 for m in made if m[0] < ended), timeout=60)  # traffic after it too
    assert rebuild.returncode == 0, rebuild.stderr
    assert "rebuilt audit-log from" in rebuild.stdout
    _drained(operator, reference)
    reference.stop()
    live, live_memberships = rows(audit_db)
    operations = {k: live.pop(k) for k in [k for k, v in live.items() if v[0] == "OperatorActed"]}
    assert len(operations) >= len(SOURCES) + 1  # this test's replays and its rebuild, kept by the rebuild
    kept, kept_memberships = rows(tmp_path / "never-reset.db")
    assert set(live) == set(kept) and live == kept  # nothing lost, nothing doubled, nothing else
    assert set(lost) <= set(live) and "not-from-upstream" not in live
    assert live_memberships == kept_memberships
    during = [e for e in live.values() if began <= e[3] <= ended]
    assert during, "no event was stored while the rebuild ran: the test proved nothing about them"
    for _, _admin, member, eid in made:
        assert (eid, member.user_id) in {(m[0], m[1]) for m in live_memberships}


def _env():
    return dict(os.environ)


PAGES = 40  # requests per upstream stream a rebuild makes: long enough to overlap the traffic


def page_for(operator, sources):
    """Events per request for a rebuild of about PAGES pages of the longest upstream stream: a fixed
    small page made the rebuild's time grow with every test that ran before it on the platform."""
    body = json.loads(eport("status", "--json", amqp_uri=operator).stdout)
    stored = max(s["stored"] for s in body["stores"] if s["service"] in sources)
    return min(1000, max(5, stored // PAGES))


def _drained(operator, reference):
    """Every relay caught up, every audit queue and the reference's queue empty, twice in a row."""
    def quiet():
        body = json.loads(eport("status", "--json", amqp_uri=operator).stdout)
        lags = [s["lag"] for s in body["stores"] if s["lag"] is not None]
        waiting = [q["waiting"] for q in body["queues"] if q["consumer"] == "audit"]
        return not any(lags) and not any(waiting) and (reference is None or reference.depth() == 0)
    wait_for(lambda: quiet() and (time.sleep(1.0) or quiet()), timeout=60, interval=0.5)


def messages(api, person):
    r = api.get("/api/v1/messages", token=person.token)
    assert r.status_code == 200, r.text
    return {m["message_id"]: (m["kind"], m["read"]) for m in r.json()["items"]}


def forge_a_message_no_source_has(broker, recipient_user_id):
    """An AssociationRequested published into notify's queue alone: in the live inbox only."""
    from kombu import Producer

    from contracts.enterprise import ASSOCIATION_REQUESTED
    from contracts.envelope import make_envelope
    from services.common.deadletters import DEFAULT_EXCHANGE
    from tests.support import signed  # with the development key of enterprise: only no history has it
    envelope = make_envelope(ASSOCIATION_REQUESTED, aggregate_id=uuid.uuid4(), aggregate_version=1,
                             occurred_at=datetime.now(UTC), payload={
                                 "association_id": str(uuid.uuid4()), "enterprise_id": str(uuid.uuid4()),
                                 "user_id": str(uuid.uuid4()), "role": "user", "admin_user_id": recipient_user_id,
                                 "enterprise_name": "伪造测试有限公司", "user_name": "李四"})
    with Connection(broker) as conn:
        Producer(conn.channel(), exchange=DEFAULT_EXCHANGE, serializer="json").publish(
            signed(envelope), routing_key="notify.enterprise-events", message_id=envelope["event_id"])


def test_an_inbox_rebuild_during_traffic_keeps_every_message_and_read_mark_once(api, platform):
    broker = platform.env["AMQP_URI"]
    operator = (platform.broker_uris or {}).get("operator", broker)
    admin, member = register(api), register(api)
    eid, uscc = register_enterprise(api, admin)
    approve(api, admin, apply(api, member, uscc))
    wait_for(lambda: len(messages(api, admin)) == 1 and len(messages(api, member)) == 1)
    [request] = messages(api, admin)
    r = api.post(f"/api/v1/messages/{request}/read", token=admin.token)
    assert r.status_code == 204, r.text
    forge_a_message_no_source_has(broker, admin.user_id)
    wait_for(lambda: len(messages(api, admin)) == 2)
    before = {p.user_id: messages(api, p) for p in (admin, member)}
    page = page_for(operator, ("enterprise",))
    with traffic_running(api) as made:
        done = eport("rebuild", "inbox", "--page", page, amqp_uri=operator, timeout=300)
        after_it = len(made)
        wait_for(lambda: len(made) >= after_it + 1, timeout=60)  # traffic after it too
    assert "rebuilt inbox from" in done.stdout
    after = messages(api, admin)
    assert {i: m for i, m in after.items()} == {request: ("association_requested", True)}  # forged one gone
    assert messages(api, member) == before[member.user_id]
    for _, their_admin, their_member, _ in made:  # before, during and after the rebuild: each once
        wait_for(lambda a=their_admin: list(messages(api, a).values()) == [("association_requested", False)])
        wait_for(lambda m=their_member: list(messages(api, m).values()) == [("association_approved", False)])


def grant(api, admin, eid, user_id, systems=("manifest",)):
    return api.put(f"/api/v1/enterprises/{eid}/members/{user_id}/permissions", token=admin.token,
                   json={"systems": list(systems)})


def allowed(api, person, eid, system="manifest"):
    r = api.get(f"/api/v1/authz/check?user_id={person.user_id}&enterprise_id={eid}&system={system}",
                token=person.token)
    assert r.status_code == 200, r.text
    return r.json()["allowed"]


def test_an_authz_rebuild_learns_what_authz_missed_and_keeps_every_grant(api, platform):
    from contracts.subscriptions import subscription
    broker = platform.env["AMQP_URI"]
    operator = (platform.broker_uris or {}).get("operator", broker)
    admin, kept, missed = register(api), register(api), register(api)
    eid, uscc = register_enterprise(api, admin)
    approve(api, admin, apply(api, kept, uscc))
    wait_for(lambda: grant(api, admin, eid, kept.user_id).status_code == 200)
    authz_queue = subscription("authz", "enterprise")
    with Connection(broker) as conn:  # authz hears nothing of enterprise for a while
        channel = conn.channel()
        for key in authz_queue.event_types:
            channel.queue_unbind(authz_queue.queue_name, "enterprise.events", key)
        try:
            approve(api, admin, apply(api, missed, uscc))
            _drained(operator, None)
        finally:
            for key in authz_queue.event_types:
                channel.queue_bind(authz_queue.queue_name, "enterprise.events", key)
    refused = grant(api, admin, eid, missed.user_id)
    assert refused.status_code == 409 and http_error(refused)["code"] == "NOT_A_MEMBER", refused.text
    page = page_for(operator, ("enterprise",))
    with traffic_running(api) as made:
        done = eport("rebuild", "authz", "--page", page, amqp_uri=operator, timeout=300)
        wait_for(lambda: made, timeout=60)  # what began during the rebuild at least
    assert "rebuilt authz from" in done.stdout
    assert grant(api, admin, eid, missed.user_id).status_code == 200
    assert allowed(api, missed, eid) and allowed(api, kept, eid)
    assert not allowed(api, kept, eid, "cargo_declaration")
    for _, their_admin, their_member, their_eid in made:  # grants of the traffic work, before and after
        wait_for(lambda a=their_admin, m=their_member, e=their_eid: grant(api, a, e, m.user_id).status_code == 200)
        assert allowed(api, their_member, their_eid)

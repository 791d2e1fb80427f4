"""The audit log: every integration event of the platform, once, queryable.

A plain SQLite table rather than aggregates: the audit log's state *is* a log of events, and its
queries (by enterprise, type, user, time range, newest first) want indexes, not replays. The
event_id primary key makes recording idempotent: a redelivered event is one INSERT OR IGNORE.
"""
import json
import sqlite3
import threading

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_events (
    event_id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    event_version INTEGER NOT NULL,
    source TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    aggregate_version INTEGER NOT NULL,
    actor_user_id TEXT,
    correlation_id TEXT,
    enterprise_id TEXT,
    subject TEXT,
    payload TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_enterprise ON audit_events (enterprise_id, occurred_at);
CREATE INDEX IF NOT EXISTS audit_by_subject ON audit_events (subject, occurred_at);
"""

# Payload fields that name the person an event is about, in order of preference.
SUBJECT_FIELDS = ("user_id", "to_user_id", "applicant_user_id", "admin_user_id")


def subject_of(envelope):
    payload = envelope["payload"]
    for name in SUBJECT_FIELDS:
        if payload.get(name):
            return str(payload[name])
    return envelope["aggregate_id"]


class AuditStore:
    def __init__(self, path):
        self._path = str(path)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.executescript(SCHEMA)

    def _connect(self):
        return sqlite3.connect(self._path, timeout=10, isolation_level=None)

    def record(self, envelope):
        """True when recorded, False when it was a repeat."""
        payload = envelope["payload"]
        with self._lock, self._connect() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO audit_events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,"
                " (SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_events))",
                (envelope["event_id"], envelope["event_type"], envelope["event_version"],
                 envelope["source"], envelope["occurred_at"], envelope["aggregate_id"],
                 envelope["aggregate_version"], envelope.get("actor_user_id"),
                 envelope.get("correlation_id"), payload.get("enterprise_id"), subject_of(envelope),
                 json.dumps(payload, ensure_ascii=False, sort_keys=True)))
            return cur.rowcount == 1

    def query(self, enterprise_id=None, event_type=None, user_id=None, since=None, until=None, limit=100):
        where, args = [], []
        if enterprise_id is not None:
            where.append("enterprise_id = ?"); args.append(enterprise_id)
        if event_type:
            where.append("event_type = ?"); args.append(event_type)
        if user_id:
            where.append("(subject = ? OR actor_user_id = ?)"); args += [user_id, user_id]
        if since:
            where.append("occurred_at >= ?"); args.append(since)
        if until:
            where.append("occurred_at < ?"); args.append(until)
        sql = "SELECT event_id, event_type, occurred_at, actor_user_id, subject, payload, source FROM audit_events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY occurred_at DESC, seq DESC LIMIT ?"
        args.append(int(limit))
        with self._lock, self._connect() as db:
            rows = db.execute(sql, args).fetchall()
        return [{"event_id": r[0], "event_type": r[1], "occurred_at": r[2], "actor_user_id": r[3],
                 "subject": r[4], "payload": json.loads(r[5]), "source": r[6]} for r in rows]

    def count(self):
        with self._lock, self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM audit_events").fetchone()[0]

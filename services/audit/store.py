"""The audit log: every integration event of the platform, once, queryable.

A plain SQLite table rather than aggregates: the audit log's state *is* a log of events, and its
queries (by enterprise, type, user, time range, newest first) want indexes, not replays. A
unique index on event_id makes recording idempotent: a redelivered event is one insert that does
nothing.

An enterprise's trail holds the events that name the enterprise, and also what happened to its
members' accounts (logins, failed logins, locks, logouts, password changes) while they were its
members. Identity events name no enterprise, so the log keeps each membership's interval, learnt
from the enterprise events in the same transaction as the event that opens or closes it.

At rest the payloads (names, card numbers, session ids) are encrypted with the event stores' key
(EPORT_CIPHER_KEY, AES-GCM): what stays in clear are ids, types and times, what the queries filter
on. On PostgreSQL (EVENT_STORE=postgres, store_postgres.py's `PostgresAuditStore`) several audit
instances share one log: each write holds a transaction-level advisory lock, so an event is recorded once and the
sequence and the membership intervals stay as one writer would leave them.
"""
import base64
from binascii import b2a_base64
import json
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

from eventsourcing.utils import Environment

from contracts.masking import ERASED
from contracts.personal import PERSONAL
from services.common import fastjson
from services.common.cipher import AESCipher
from services.common.sealing import FieldSeal
from services.common.settings import secret
from services.common.swap import SqliteFile

TABLES = """
CREATE TABLE IF NOT EXISTS audit_events (
    event_id TEXT NOT NULL,
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
CREATE TABLE IF NOT EXISTS memberships (
    opened_by TEXT PRIMARY KEY,
    enterprise_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    since TEXT NOT NULL,
    until TEXT
);
CREATE INDEX IF NOT EXISTS memberships_of_enterprise ON memberships (enterprise_id, user_id);
"""
# The key: a unique index rather than a primary key (logs made before this release have one), so
# that a rebuild appends its rows and makes the key once at the end (`finish_bulk`): inserting event
# ids (random UUIDs) into a key one by one slowed down as the table outgrew the page cache (12 us a
# row for the first 50,000, 30 us from 150,000 on), and moving the rows over into a keyed table
# in the key's order, as rebuilds did before, cost 3.4 us a row.
KEY = "CREATE UNIQUE INDEX IF NOT EXISTS audit_event_ids ON audit_events (event_id);"
# What the queries need; a rebuild creates them once its history is in, which is several times
# cheaper than keeping four indexes up to date through 200,000 inserts.
INDEXES = """
CREATE INDEX IF NOT EXISTS audit_by_enterprise ON audit_events (enterprise_id, occurred_at);
CREATE INDEX IF NOT EXISTS audit_by_subject ON audit_events (subject, occurred_at);
CREATE INDEX IF NOT EXISTS audit_by_seq ON audit_events (seq);
CREATE INDEX IF NOT EXISTS audit_by_correlation ON audit_events (correlation_id);
"""

# Payload fields that name the person an event is about, in order of preference.
SUBJECT_FIELDS = ("user_id", "to_user_id", "applicant_user_id", "admin_user_id")
# Payload fields that hold the personal data of the event's subject (its name, masked numbers, card,
# session), each sealed with its person's key of audit's own key store (crypto-shredding: a copy of the
# log taken before an erasure reads nothing of them once the key is destroyed): contracts/personal.py.
PERSONAL_FIELDS = {kind: tuple(fields) for kind, fields in PERSONAL.items()}
USER_ERASED = "UserErased"  # identity's: its subject is the erased person
# The account events an enterprise's trail shows for its members.
MEMBER_ACCOUNT_SOURCE = "identity"

INSERT = "INSERT INTO audit_events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (event_id) DO NOTHING"
APPEND = "INSERT INTO audit_events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"  # a rebuild's, before its key
# A rebuild's rows, this many a statement: one of 50 rows costs a sixth less a row than 50 of one.
APPEND_ROWS = 50
APPEND_MANY = "INSERT INTO audit_events VALUES " + ",".join(["(?,?,?,?,?,?,?,?,?,?,?,?,?)"] * APPEND_ROWS)
COLUMNS = "a.event_id, a.event_type, a.occurred_at, a.actor_user_id, a.subject, a.payload, a.source, a.correlation_id"


ENCRYPTED = "aes:"  # the prefix of an encrypted payload; a clear one (older logs) is JSON


class PayloadCipher:
    """A payload at rest: its personal fields sealed each with its person's key (`FieldSeal`, bound
    to the event's id), the whole encrypted with the store key. Rows from before the per-person
    seal hold no sealed field, and read as they were."""

    def __init__(self, key=None, persons=None):
        from services.common.bootstrap import person_keys

        self._aes = AESCipher(Environment(env={"CIPHER_KEY": key or secret("EPORT_CIPHER_KEY")}))
        self._fields = FieldSeal(persons or person_keys("audit"))

    def seal(self, payload, kind=None, event_id=""):
        payload = self._fields.seal(payload, PERSONAL.get(kind, {}), _bound(event_id))
        return ENCRYPTED + b2a_base64(self._aes.encrypt(fastjson.dumps_sorted(payload)), newline=False).decode()

    def open(self, stored, event_id=None):
        """The payload; its sealed fields opened unless `event_id` is None (then left sealed)."""
        if not stored.startswith(ENCRYPTED):
            return json.loads(stored)
        payload = fastjson.loads(self._aes.decrypt(base64.b64decode(stored[len(ENCRYPTED):])))
        return payload if event_id is None else self._fields.open(payload, _bound(event_id))


def _bound(event_id):
    return f"audit|{event_id}".encode()


def _erased(source, event_type, payload, user_id):
    """The payload with the personal fields of `user_id` read ERASED (the same payload when it has none)."""
    fields = PERSONAL_FIELDS.get((source, event_type), ()) if payload.get("user_id") == user_id else ()
    return {k: ERASED if k in fields and v is not None else v for k, v in payload.items()}


def subject_of(envelope):
    payload = envelope["payload"]
    for name in SUBJECT_FIELDS:
        if payload.get(name):
            return str(payload[name])
    return envelope["aggregate_id"]


class AuditStore:
    """One connection, WAL: the consumer appends one event at a time, and the queries read
    beside it without waiting for the writer. `bulk`: a rebuild's store, filled before anyone
    reads it: its rows appended with no key and no query index until `finish_bulk`, and with no
    journal and no fsync, since an interrupted rebuild is thrown away (`sibling` deletes what one
    left)."""

    def __init__(self, path, cipher=None, bulk=False):
        self._path = Path(path)
        self._lock = threading.Lock()
        self._cipher = cipher or PayloadCipher()
        self._bulk, self._appended = bulk, 0  # rows appended so far (a bulk store starts empty)
        self._erasures_seen = False  # whether a bulk store was given a UserErased
        self._open()

    def _open(self):
        self._db = sqlite3.connect(str(self._path), timeout=10, isolation_level=None, check_same_thread=False)
        self._db.execute(f"PRAGMA journal_mode={'OFF' if self._bulk else 'WAL'}")
        self._db.execute(f"PRAGMA synchronous={'OFF' if self._bulk else 'FULL'}")
        self._script(TABLES if self._bulk else self._keyed(TABLES) + INDEXES)

    def _keyed(self, tables):
        """The tables, and the key unless the log has its primary key from before this release."""
        old = self._run("SELECT 1 FROM pragma_index_list('audit_events') WHERE origin = 'pk'").fetchone()
        return tables if old else tables + KEY

    def _script(self, sql):
        self._db.executescript(sql)

    def _run(self, sql, args=()):
        return self._db.execute(sql, args)

    def _run_many(self, sql, rows):
        """How many rows the statement changed, run for each row."""
        return self._db.executemany(sql, rows).rowcount

    def _begin(self):
        self._db.execute("BEGIN IMMEDIATE")

    def record(self, envelope):
        """True when recorded, False when it was a repeat."""
        return self.record_many([envelope]) == 1

    def record_many(self, envelopes):
        """Records them in order in one transaction; how many were new."""
        with self._lock:
            self._begin()
            try:
                seq = self._last_seq()
                if not self._bulk:  # an event about a person erased already (a replay, a late one): erased too
                    envelopes = [self._as_erased(e) for e in envelopes]
                rows = [self._row(e, seq + i + 1) for i, e in enumerate(envelopes)]
                added = self._append(rows) if self._bulk else self._run_many(INSERT, rows)
                for envelope in envelopes:  # on repeats too: an operator's rewind can then rebuild the intervals
                    self._track_membership(envelope)
                self._run("COMMIT")
            except BaseException:
                self._rollback()
                raise
            return added

    def _rollback(self):
        self._run("ROLLBACK")

    def _append(self, rows):
        """A rebuild's rows (no key yet: each is new), APPEND_ROWS a statement; how many."""
        whole = len(rows) - len(rows) % APPEND_ROWS
        self._run_many(APPEND_MANY, [[value for row in rows[at:at + APPEND_ROWS] for value in row]
                                     for at in range(0, whole, APPEND_ROWS)])
        self._run_many(APPEND, rows[whole:])
        self._appended += len(rows)
        self._erasures_seen = self._erasures_seen or any(row[1] == USER_ERASED for row in rows)
        return len(rows)

    def _last_seq(self):
        if self._bulk:  # no index yet: MAX(seq) would read the whole table for every page
            return self._appended
        return self._run("SELECT COALESCE(MAX(seq), 0) FROM audit_events").fetchone()[0]

    def _row(self, envelope, seq):
        """The row of an event; a repeat's seq is not used (seq orders, it need not be gapless)."""
        payload = envelope["payload"]
        return (envelope["event_id"], envelope["event_type"], envelope["event_version"],
                envelope["source"], envelope["occurred_at"], envelope["aggregate_id"],
                envelope["aggregate_version"], envelope.get("actor_user_id"),
                envelope.get("correlation_id"), payload.get("enterprise_id"), subject_of(envelope),
                self._cipher.seal(payload, (envelope["source"], envelope["event_type"]), envelope["event_id"]), seq)

    def _as_erased(self, envelope):
        payload, kind = envelope["payload"], (envelope["source"], envelope["event_type"])
        if not any(payload.get(k) not in (None, ERASED) for k in PERSONAL_FIELDS.get(kind, ())):
            return envelope
        erased = self._run("SELECT 1 FROM audit_events WHERE subject = ? AND event_type = ? LIMIT 1",
                           (payload.get("user_id"), USER_ERASED)).fetchone()
        return envelope if erased is None else {**envelope, "payload": _erased(*kind, payload, payload["user_id"])}

    def pseudonymize_erased(self):
        """`pseudonymize` every person the log records as erased; how many entries changed."""
        with self._lock:
            erased = self._run("SELECT DISTINCT subject FROM audit_events WHERE event_type = ?",
                               (USER_ERASED,)).fetchall()
        return sum(self.pseudonymize(user_id) for (user_id,) in erased)

    def pseudonymize(self, user_id):
        """An erased person's entries (services/common/erasure.py): the personal fields of every
        event about them read ERASED, sealed again; ids, types and times stay, their user id a
        pseudonym now. Idempotent; how many entries changed."""
        changed = 0
        with self._lock:
            self._begin()
            try:
                rows = self._run("SELECT event_id, source, event_type, payload FROM audit_events WHERE subject = ?",
                                 (user_id,)).fetchall()
                for event_id, source, event_type, stored in rows:
                    payload = self._cipher.open(stored)  # its sealed fields left sealed: ERASED now
                    erased = _erased(source, event_type, payload, user_id)
                    if erased != payload:
                        self._run("UPDATE audit_events SET payload = ? WHERE event_id = ?",
                                  (self._cipher.seal(erased, (source, event_type), event_id), event_id))
                        changed += 1
                self._run("COMMIT")
            except BaseException:
                self._rollback()
                raise
        return changed

    # -- rebuilding (services/audit/rebuild.py) ----------------------------------------------------
    def sibling(self):
        """An empty store beside this one, to rebuild into."""
        place = SqliteFile(self._path)
        place.emptied()
        return AuditStore(place.rebuilt, self._cipher, bulk=True)

    def finish_bulk(self):
        """A rebuilt store becomes one to query and to keep: its key (a repeat kept once), its
        indexes, its journal, and fsync from now on."""
        with self._lock:
            if not self._bulk:
                return
            try:
                self._script(KEY)
            except sqlite3.IntegrityError:  # a repeat among the rows: the first one recorded stays
                self._run("DELETE FROM audit_events WHERE rowid NOT IN (SELECT MIN(rowid) FROM audit_events"
                          " GROUP BY event_id)")
                self._script(KEY)
            self._script(INDEXES)
            self._run("PRAGMA journal_mode=WAL")
            self._run("PRAGMA synchronous=FULL")
            self._bulk = False
        if self._erasures_seen:  # the upstream histories may hold what the log had erased (else none to find)
            self.pseudonymize_erased()

    @contextmanager
    def held(self):
        """Nothing records or reads here meanwhile (the rebuild's last catch-up and its swap)."""
        with self._lock:
            yield

    def adopt(self, rebuilt):
        """Becomes `rebuilt` (its file replaces this one's); call it within `held()`."""
        rebuilt.finish_bulk()
        rebuilt.close()  # its last connection: SQLite folds its WAL into the file
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()
        SqliteFile(self._path).replace()
        self._open()

    def discard(self):
        self.close()
        self._path.unlink(missing_ok=True)

    def _track_membership(self, envelope):
        if envelope["source"] != "enterprise":
            return
        kind, payload, at = envelope["event_type"], envelope["payload"], envelope["occurred_at"]
        if kind == "AssociationApproved":
            # A second approval while a membership is open adds nothing (the first one stands). A
            # removal recorded before its approval (a redelivered approval can come after it) ends
            # the membership at once: open, it would show a former member's account events. A
            # rebuild reads enterprise's events in their order, removals after their approvals, and
            # its rows have no index to look one up by.
            removed = "NULL" if self._bulk else (
                "(SELECT MIN(occurred_at) FROM audit_events WHERE enterprise_id = ? AND subject = ?"
                " AND source = 'enterprise' AND event_type = 'MemberRemoved' AND occurred_at >= ?)")
            removal = () if self._bulk else (payload["enterprise_id"], payload["user_id"], at)
            self._run(
                f"INSERT INTO memberships SELECT ?, ?, ?, ?, {removed}"
                " WHERE NOT EXISTS ("
                " SELECT 1 FROM memberships WHERE enterprise_id = ? AND user_id = ? AND until IS NULL)"
                " ON CONFLICT (opened_by) DO NOTHING",
                (envelope["event_id"], payload["enterprise_id"], payload["user_id"], at, *removal,
                 payload["enterprise_id"], payload["user_id"]))
        elif kind == "MemberRemoved":
            # `since <= ?`: a repeated old removal must not end a later membership.
            self._run(
                "UPDATE memberships SET until = ? WHERE enterprise_id = ? AND user_id = ? AND until IS NULL"
                " AND since <= ?", (at, payload["enterprise_id"], payload["user_id"], at))

    def query(self, enterprise_id=None, event_type=None, user_id=None, since=None, until=None, limit=100,
              correlation_id=None, before=None):
        """The events that match, newest first; `before` (occurred_at, seq): only those that sort
        after it (a page's keyset, contracts/pages.py). Each item keeps its `seq` (the log's order)."""
        filters, args = [], []
        if before is not None:
            filters.append("(a.occurred_at < ? OR (a.occurred_at = ? AND a.seq < ?))")
            args += [before[0], before[0], before[1]]
        if correlation_id:
            filters.append("a.correlation_id = ?")
            args.append(correlation_id)
        if event_type:
            filters.append("a.event_type = ?")
            args.append(event_type)
        if user_id:
            filters.append("(a.subject = ? OR a.actor_user_id = ?)")
            args += [user_id, user_id]
        if since:
            filters.append("a.occurred_at >= ?")
            args.append(since)
        if until:
            filters.append("a.occurred_at < ?")
            args.append(until)
        if enterprise_id is None:
            sql, sql_args = self._select("audit_events a", filters), args
        else:
            named = self._select("audit_events a", ["a.enterprise_id = ?", *filters])
            of_members = self._select(
                "memberships m JOIN audit_events a ON a.subject = m.user_id AND a.occurred_at >= m.since"
                " AND (m.until IS NULL OR a.occurred_at < m.until)",
                ["m.enterprise_id = ?", "a.source = ?", *filters])
            sql = f"{named} UNION ALL {of_members}"
            sql_args = [enterprise_id, *args, enterprise_id, MEMBER_ACCOUNT_SOURCE, *args]
        sql += " ORDER BY occurred_at DESC, seq DESC LIMIT ?"
        with self._lock:
            rows = self._run(sql, [*sql_args, int(limit)]).fetchall()
        return [{"event_id": r[0], "event_type": r[1], "occurred_at": r[2], "actor_user_id": r[3],
                 "subject": r[4], "payload": self._cipher.open(r[5], r[0]), "source": r[6], "correlation_id": r[7],
                 "seq": r[8]} for r in rows]

    @staticmethod
    def _select(source, where):
        sql = f"SELECT {COLUMNS}, a.seq AS seq FROM {source}"
        return sql + (" WHERE " + " AND ".join(where) if where else "")

    def count(self):
        with self._lock:
            return self._run("SELECT COUNT(*) FROM audit_events").fetchone()[0]

    def close(self):
        with self._lock:
            self._db.close()


def open_store():
    """The audit log where the event stores are: $EPORT_VAR/audit.db, or the audit service's
    PostgreSQL database with EVENT_STORE=postgres."""
    from services.common.bootstrap import event_store_env
    from services.common.settings import setting, var_dir

    if setting("EVENT_STORE") == "postgres":
        from .store_postgres import PostgresAuditStore  # it builds on AuditStore: imported here
        return PostgresAuditStore(event_store_env("audit")["SQLALCHEMY_URL"])
    return AuditStore(var_dir() / "audit.db")

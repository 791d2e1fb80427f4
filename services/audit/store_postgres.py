"""The audit log on PostgreSQL (EVENT_STORE=postgres): `PostgresAuditStore`, shared by every audit
instance, with the SQLite store's tables and SQL (services/audit/store.py)."""
from contextlib import contextmanager

from .store import INDEXES, KEY, TABLES, AuditStore

ADVISORY_KEY = 0x617564_6974  # "audit": the one writer at a time across every audit instance
LIVE_SCHEMA, REBUILD_SCHEMA = "public", "audit_rebuild"
# a rebuild's schema has one writer (the rebuild), and writes it under the live log's hold: its
# transactions must not wait for the key the hold holds, or the rebuild waits for itself
WRITER_KEYS = {LIVE_SCHEMA: ADVISORY_KEY, REBUILD_SCHEMA: ADVISORY_KEY + 1}


class PostgresAuditStore(AuditStore):
    """The audit log in the audit service's PostgreSQL database (EVENT_STORE=postgres), shared by
    every audit instance. The same tables and SQL as on SQLite; a rebuild (`sibling`) fills the
    same tables in a schema of its own, and `adopt` copies them over the live ones in one
    transaction while `held()` keeps every instance from writing."""

    def __init__(self, url, cipher=None, schema=LIVE_SCHEMA):
        self._url = url.replace("postgresql+psycopg2://", "postgresql://")
        self._schema = schema
        super().__init__(self._url, cipher)

    def _open(self):
        import psycopg2

        from services.common.postgres import make_green
        make_green()
        self._db = psycopg2.connect(self._url)
        self._db.autocommit = True  # transactions are the explicit BEGIN/COMMIT of record_many
        with self._db.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_KEY,))  # two first starts create at once
            try:
                cur.execute(f"CREATE SCHEMA IF NOT EXISTS {self._schema}")
                cur.execute(f"SET search_path TO {self._schema}")
                cur.execute(self._keyed(TABLES) + INDEXES)
            finally:
                cur.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_KEY,))

    def _keyed(self, tables):
        with self._db.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype = 'p'",
                        (f"{self._schema}.audit_events",))
            old = cur.fetchone()
        return tables if old else tables + KEY

    def _run(self, sql, args=()):
        import psycopg2

        if self._db.closed:  # lost with the database (a restart): a new connection, a new try
            self._open()
        try:
            cur = self._db.cursor()
            cur.execute(sql.replace("?", "%s"), tuple(args))
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            self._db.close()  # what was under way fails (the consumer's message is requeued)
            raise
        return cur

    def _run_many(self, sql, rows):
        return sum(self._run(sql, row).rowcount for row in rows)

    def _begin(self):
        self._run("BEGIN")
        self._run("SELECT pg_advisory_xact_lock(?)", (WRITER_KEYS[self._schema],))

    def _rollback(self):
        if not self._db.closed:  # a lost connection took its transaction with it
            self._run("ROLLBACK")

    def sibling(self):
        self._run(f"DROP SCHEMA IF EXISTS {REBUILD_SCHEMA} CASCADE")
        return PostgresAuditStore(self._url, self._cipher, schema=REBUILD_SCHEMA)

    @contextmanager
    def held(self):
        with self._lock:
            self._run("SELECT pg_advisory_lock(?)", (ADVISORY_KEY,))
            try:
                yield
            finally:
                self._run("SELECT pg_advisory_unlock(?)", (ADVISORY_KEY,))

    def adopt(self, rebuilt):
        rebuilt.close()
        self._run("BEGIN")
        try:
            for table in ("audit_events", "memberships"):
                self._run(f"DELETE FROM {LIVE_SCHEMA}.{table}")
                self._run(f"INSERT INTO {LIVE_SCHEMA}.{table} SELECT * FROM {REBUILD_SCHEMA}.{table}")
            self._run(f"DROP SCHEMA {REBUILD_SCHEMA} CASCADE")
            self._run("COMMIT")
        except BaseException:
            self._run("ROLLBACK")
            raise

    def discard(self):
        self._run(f"DROP SCHEMA IF EXISTS {self._schema} CASCADE")
        self.close()

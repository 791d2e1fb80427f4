"""PostgreSQL for scale-out (EVENT_STORE=postgres): eventsourcing-sqlalchemy over psycopg2, and
the pause of every instance of a service that a swap of its store needs (`InstancesPause`).

Measured on this platform: the library's own psycopg 3 module hangs under eventlet, psycopg2 made
green by psycogreen works. The patch must be applied before the first connection.
"""
import json
import threading
from contextlib import contextmanager
from urllib.parse import urlparse, urlunparse

_patched = False


def make_green():
    global _patched
    if not _patched:
        from psycogreen.eventlet import patch_psycopg
        patch_psycopg()
        _patched = True


def ensure_database(url):
    """Create the service's database on first start, as SQLite creates its file."""
    import psycopg2
    from psycopg2 import sql

    parsed = urlparse(url.replace("postgresql+psycopg2://", "postgresql://"))
    name = parsed.path.lstrip("/")
    admin = urlunparse(parsed._replace(path="/postgres"))
    conn = psycopg2.connect(admin)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                try:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                # another instance won the race (before it committed, a unique index says so)
                except (psycopg2.errors.DuplicateDatabase, psycopg2.errors.UniqueViolation):
                    pass
    finally:
        conn.close()


@contextmanager
def creating_tables(url):
    """Held while one instance of a service creates its tables (CREATE ... IF NOT EXISTS is no
    guard against another instance creating the same at once: one of them fails with a unique
    violation of the catalog): the instances of a service start one after another there."""
    import psycopg2

    db = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
    try:
        db.autocommit = True
        with db.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(hashtext('eport-creating-tables'))")
        yield
    finally:
        db.close()  # the session's end releases its lock


class InstancesPause:
    """A pause of every instance of a service sharing its PostgreSQL database, for a swap of its
    store (services/common/swap.py): each transaction a call of an instance begins takes the
    service's advisory lock shared, as its first statement; `held()` takes it exclusively, so it
    waits for the transactions under way in every instance, and the ones they begin meanwhile wait
    for it. Only calls through the swap's gate take it (`within_call`): the swap's own reads of the
    live store, outside the gate, do not wait for their own pause."""

    def __init__(self, url, service_name):
        self.url = url.replace("postgresql+psycopg2://", "postgresql://")
        self.key = f"eport-pause:{service_name}"

    def hook(self, app):
        """Every transaction `app` begins within a call takes the lock shared."""
        from sqlalchemy import event

        event.listen(app.factory.datastore.session_maker, "after_begin", self._shared)

    def _shared(self, session, transaction, connection):
        if getattr(within_call, "inside", False):
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock_shared(hashtext(%(key)s))", {"key": self.key})

    @contextmanager
    def held(self):
        import psycopg2

        db = psycopg2.connect(self.url)
        try:
            db.autocommit = True
            with db.cursor() as cur:
                cur.execute("SELECT pg_advisory_lock(hashtext(%s))", (self.key,))
            yield
        finally:
            db.close()  # the session's end releases its lock


within_call = threading.local()  # `inside`: this (green) thread runs a call through the gate


class RebuildBoard:
    """Where the instances of a service sharing its PostgreSQL database see a rebuild (`eport
    rebuild`) that one of them runs: the `eport` tool's questions reach any instance. One rebuild
    of a projection at a time across them (`claim`), and its progress, which the instance running
    it writes every `EVERY` seconds (`post`), answered by every other one (`progress`); a running
    rebuild whose instance stopped posting (it died) is failed."""

    EVERY = 0.5  # seconds between two posts of a running rebuild
    STALE = 15  # seconds without a post: its instance is gone

    def __init__(self, url):
        self.url = url.replace("postgresql+psycopg2://", "postgresql://")
        self._run("CREATE TABLE IF NOT EXISTS ops_rebuilds (projection TEXT PRIMARY KEY, progress TEXT NOT NULL, "
                  "posted TIMESTAMPTZ NOT NULL)")

    def claim(self, projection, progress):
        """True when no instance runs a rebuild of `projection` now: this one's is on the board."""
        return bool(self._run(
            "INSERT INTO ops_rebuilds VALUES (%s, %s, now()) ON CONFLICT (projection) DO UPDATE "
            "SET progress = EXCLUDED.progress, posted = now() WHERE ops_rebuilds.progress::json->>'state' <> "
            "'running' OR ops_rebuilds.posted < now() - make_interval(secs => %s) RETURNING 1",
            (projection, json.dumps(progress), self.STALE)))

    def post(self, projection, progress):
        self._run("UPDATE ops_rebuilds SET progress = %s, posted = now() WHERE projection = %s",
                  (json.dumps(progress), projection))

    def progress(self, projection):
        """The last progress posted of `projection`'s rebuild, None when there never was one."""
        rows = self._run("SELECT progress, posted < now() - make_interval(secs => %s) FROM ops_rebuilds "
                         "WHERE projection = %s", (self.STALE, projection))
        if not rows:
            return None
        progress, stale = json.loads(rows[0][0]), rows[0][1]
        if progress["state"] == "running" and stale:
            return {**progress, "state": "failed", "error": "the instance running it stopped"}
        return progress

    def _run(self, statement, args=()):
        import psycopg2

        db = psycopg2.connect(self.url)
        try:
            with db, db.cursor() as cur:
                cur.execute(statement, args or None)
                return cur.fetchall() if cur.description else []
        finally:
            db.close()

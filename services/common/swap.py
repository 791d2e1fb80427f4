"""An EventSourced dependency whose Application can be replaced while the service runs: the
read model it keeps is rebuilt beside it and takes its place (`eport rebuild`).

Workers get a stand-in that passes each call to the current Application through a gate: calls
run side by side, and a swap closes the gate, waits for the calls in flight, and replaces the
Application before any new call starts. What replaces what depends on the store, and either way a
restart keeps the rebuilt model: on SQLite (the embedded default) the rebuilt file replaces the
live one; on PostgreSQL (EVENT_STORE=postgres) the model is rebuilt in a schema of its own in the
same database, whose tables then take the place of the live ones in one transaction. The gate is
the process's own; on PostgreSQL, where several instances of the service share the store, the swap
also pauses the others (`paused()`: services/common/postgres.py InstancesPause): none of them writes
into the live tables between the rebuild's last catch-up and the swap, and what they begin
meanwhile runs on the rebuilt tables.
"""
import os
import re
import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path

import eventlet

from contracts import errors as e
from contracts.errors import ServiceError

from .dependency import EventSourced
from .durable import fsync_path
from .bootstrap import event_store_env
from .postgres import InstancesPause, within_call

REBUILD_SUFFIX = ".rebuild"


class Gate:
    def __init__(self):
        self._lock = threading.Lock()
        self._inside = 0
        self._open = True

    def enter(self):
        while True:
            with self._lock:
                if self._open:
                    self._inside += 1
                    return
            eventlet.sleep(0.005)

    def leave(self):
        with self._lock:
            self._inside -= 1

    @contextmanager
    def closed(self):
        with self._lock:
            self._open = False
        try:
            while True:
                with self._lock:
                    if self._inside == 0:
                        break
                eventlet.sleep(0.005)
            yield
        finally:
            with self._lock:
                self._open = True


class _Current:
    """What a worker gets: the dependency's current Application, one gated call at a time."""

    def __init__(self, sourced):
        self._sourced = sourced

    def __getattr__(self, name):
        attribute = getattr(self._sourced.app, name)
        if not callable(attribute):
            return attribute

        def gated(*args, **kwargs):
            self._sourced.gate.enter()
            outer, within_call.inside = getattr(within_call, "inside", False), True
            try:
                return getattr(self._sourced.app, name)(*args, **kwargs)
            finally:
                within_call.inside = outer
                self._sourced.gate.leave()
        return gated


class SwappableEventSourced(EventSourced):
    def setup(self):
        super().setup()
        self.gate = Gate()
        self.rebuild = None
        env = event_store_env(self.app_cls.service_name)
        self.pause = InstancesPause(env["SQLALCHEMY_URL"], self.app_cls.service_name) \
            if env["PERSISTENCE_MODULE"] == "eventsourcing_sqlalchemy" else None
        self._hook(self.app)

    def _hook(self, app):
        if self.pause is not None:
            self.pause.hook(app)

    @contextmanager
    def paused(self):
        """No call of this instance runs meanwhile, nor on PostgreSQL one of any other instance."""
        with self.gate.closed(), (self.pause.held() if self.pause is not None else nullcontext()):
            yield

    def get_dependency(self, worker_ctx):
        return _Current(self)

    def _place(self):
        env = event_store_env(self.app_cls.service_name)
        if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
            return SqliteFile(env["SQLITE_DBNAME"])
        if env["PERSISTENCE_MODULE"] == "eventsourcing_sqlalchemy":
            return PostgresSchema(env, self.app_cls.service_name)
        raise ServiceError(e.CONFLICT, "Only a SQLite or PostgreSQL store is rebuilt in place.")

    def sibling(self):
        """A new, empty Application beside the current one, to rebuild into."""
        return self.app_cls(env=self._place().emptied())

    def adopt(self, rebuilt):
        """Within `paused()`: the rebuilt store takes the current one's place."""
        _close(rebuilt)  # on SQLite the last connection: SQLite folds the WAL into the file
        _close(self.app)
        try:
            self._place().replace()
        finally:  # replaced or not, the service goes on with what is in place
            self.app = self.app_cls()
            self._hook(self.app)

    def discard(self, rebuilt):
        _close(rebuilt)
        self._place().remove()


def _close(app):
    app.close()
    engine = getattr(getattr(app.factory, "datastore", None), "engine", None)
    if engine is not None:  # SQLAlchemy's pool outlives the Application's close
        engine.dispose()


class SqliteFile:
    """A SQLite store's file; the rebuilt one beside it, named with REBUILD_SUFFIX (the event
    stores here, the audit log in services/audit/store.py)."""

    def __init__(self, path):
        self.path = Path(path)
        self.rebuilt = self.path.with_name(self.path.name + REBUILD_SUFFIX)

    def emptied(self):
        """The environment of an Application on a new, empty rebuilt file."""
        for leftover in (self.rebuilt, Path(f"{self.rebuilt}-wal"), Path(f"{self.rebuilt}-shm")):
            leftover.unlink(missing_ok=True)
        return {"SQLITE_DBNAME": str(self.rebuilt)}

    def replace(self):
        """The rebuilt file in place of the live one; both closed (their WAL folded in) first. The
        rebuilt file reaches the disk before it takes the live one's name, and the rename after
        it: a rebuild written without fsync (the audit log's) must not come back from a power cut
        as a damaged or an empty log."""
        fsync_path(self.rebuilt)
        for stale in (Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
            stale.unlink(missing_ok=True)
        os.replace(self.rebuilt, self.path)
        fsync_path(self.path.parent)

    def remove(self):
        self.rebuilt.unlink(missing_ok=True)


class PostgresSchema:
    """The store's tables in its database (schema public); the rebuilt ones in `<service>_rebuild`."""

    LIVE = "public"

    def __init__(self, env, service_name):
        self.url = env["SQLALCHEMY_URL"].replace("postgresql+psycopg2://", "postgresql://")
        self.schema = re.sub(r"\W", "_", service_name) + "_rebuild"

    def emptied(self):
        self._run("DROP SCHEMA IF EXISTS {rebuilt} CASCADE", "CREATE SCHEMA {rebuilt}")
        return {"SQLALCHEMY_SCHEMA": self.schema}

    def replace(self):
        """Every rebuilt table in place of the live one of its name, and the rebuilt schema gone:
        one transaction, so a failure leaves the live tables as they were."""
        tables = [table for (table,) in self._run(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", args=(self.schema,))]
        moves = [statement for table in tables for statement in (
            ("DROP TABLE IF EXISTS {live}.{table}", table), ("ALTER TABLE {rebuilt}.{table} SET SCHEMA {live}", table))]
        self._run(*moves, "DROP SCHEMA {rebuilt}")

    def remove(self):
        self._run("DROP SCHEMA IF EXISTS {rebuilt} CASCADE")

    def _run(self, *statements, args=()):
        """The statements (text, or (text, table name)) in one transaction; the rows of the last."""
        import psycopg2
        from psycopg2 import sql

        db = psycopg2.connect(self.url)
        try:
            with db, db.cursor() as cur:  # commits at the end, rolls back on an error
                for statement in statements:
                    text, table = statement if isinstance(statement, tuple) else (statement, None)
                    cur.execute(sql.SQL(text).format(rebuilt=sql.Identifier(self.schema), live=sql.Identifier(
                        self.LIVE), table=sql.Identifier(table or "")), args or None)
                return cur.fetchall() if cur.description else []
        finally:
            db.close()

"""An EventSourced dependency whose Application can be replaced while the service runs: the
read model it keeps is rebuilt beside it and takes its place (`eport rebuild`).

Workers get a stand-in that passes each call to the current Application through a gate: calls
run side by side, and a swap closes the gate, waits for the calls in flight, and replaces the
Application before any new call starts. Only the SQLite store (the embedded default) is rebuilt
this way: its new file replaces the old one, so a restart keeps the rebuilt model.
"""
import os
import threading
from contextlib import contextmanager
from pathlib import Path

import eventlet

from contracts import errors as e
from contracts.errors import ServiceError

from .dependency import EventSourced
from .settings import event_store_env

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
            try:
                return getattr(self._sourced.app, name)(*args, **kwargs)
            finally:
                self._sourced.gate.leave()
        return gated


class SwappableEventSourced(EventSourced):
    def setup(self):
        super().setup()
        self.gate = Gate()
        self.rebuild = None

    def get_dependency(self, worker_ctx):
        return _Current(self)

    def _path(self):
        env = event_store_env(self.app_cls.service_name)
        if env["PERSISTENCE_MODULE"] != "eventsourcing.sqlite":
            raise ServiceError(e.CONFLICT, "Only the SQLite store (the embedded default) is rebuilt in place.")
        return Path(env["SQLITE_DBNAME"])

    def sibling(self):
        """A new, empty Application beside the current one, to rebuild into."""
        path = self._path().with_name(self._path().name + REBUILD_SUFFIX)
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        return self.app_cls(env={"SQLITE_DBNAME": str(path)})

    def adopt(self, rebuilt):
        """Within `gate.closed()`: the rebuilt store's file replaces the current one's."""
        path = self._path()
        rebuilt_path = path.with_name(path.name + REBUILD_SUFFIX)
        rebuilt.close()  # the last connection: SQLite folds the WAL into the file
        self.app.close()
        for stale in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)
        os.replace(rebuilt_path, path)
        self.app = self.app_cls()

    def discard(self, rebuilt):
        rebuilt.close()
        path = self._path().with_name(self._path().name + REBUILD_SUFFIX)
        path.unlink(missing_ok=True)

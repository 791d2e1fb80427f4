"""The relay's durable position in its service's notification log."""
import sqlite3
import threading


class PositionStore:
    """One row per relay name; written only after the broker confirmed what comes before it."""

    def __init__(self, path):
        self._path = str(path)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS relay_position (name TEXT PRIMARY KEY, position INTEGER NOT NULL)")

    def _connect(self):
        return sqlite3.connect(self._path, timeout=10, isolation_level=None)

    def get(self, name):
        with self._lock, self._connect() as db:
            row = db.execute("SELECT position FROM relay_position WHERE name = ?", (name,)).fetchone()
        return row[0] if row else 0

    def set(self, name, position):
        with self._lock, self._connect() as db:
            db.execute("INSERT INTO relay_position (name, position) VALUES (?, ?) "
                       "ON CONFLICT(name) DO UPDATE SET position = excluded.position", (name, position))

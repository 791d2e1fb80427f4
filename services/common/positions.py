"""The relay's durable position in its service's notification log."""
import sqlite3
import threading


class PositionStore:
    """One row per relay name; written only after the broker confirmed what comes before it.

    One connection, WAL with synchronous=NORMAL: the relay writes after every batch, and a synced
    commit each time cost every service a few per cent of its CPU. A position lost to a power cut
    is only older, so the relay republishes a little, which consumers ignore by event_id.
    """

    def __init__(self, path):
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), timeout=10, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS relay_position (name TEXT PRIMARY KEY, position INTEGER NOT NULL)")

    def get(self, name):
        with self._lock:
            row = self._db.execute("SELECT position FROM relay_position WHERE name = ?", (name,)).fetchone()
        return row[0] if row else 0

    def set(self, name, position):
        with self._lock:
            self._db.execute("INSERT INTO relay_position (name, position) VALUES (?, ?) "
                             "ON CONFLICT(name) DO UPDATE SET position = excluded.position", (name, position))

    def close(self):
        with self._lock:
            self._db.close()

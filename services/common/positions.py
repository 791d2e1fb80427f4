"""The relay's durable position in its service's notification log."""
import sqlite3
import threading

from .postgres import creating_tables


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

    def hold_lease(self, name):
        return True  # one instance per SQLite file: nobody to share the relay with

    def close(self):
        with self._lock:
            self._db.close()


class PostgresPositionStore:
    """The relay position of a service on PostgreSQL (EVENT_STORE=postgres), in its own database.

    Several instances of a service share one event store there, so they share the position too,
    and only the instance holding the relay lease (a session-level advisory lock on this store's
    connection) publishes: without it every instance would publish every event. When the holder
    dies its connection closes, PostgreSQL drops the lock, and another instance takes over.
    """

    def __init__(self, url):
        import psycopg2

        self._connect = lambda: psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
        self._lock = threading.Lock()
        self._db = None
        self._leases = set()
        with self._lock, creating_tables(url):
            with self._conn().cursor() as cur:
                cur.execute("CREATE TABLE IF NOT EXISTS relay_position "
                            "(name TEXT PRIMARY KEY, position BIGINT NOT NULL)")

    def _conn(self):
        if self._db is None or self._db.closed:
            self._db = self._connect()
            self._db.autocommit = True
            self._leases.clear()  # locks die with their connection
        return self._db

    def get(self, name):
        with self._lock, self._conn().cursor() as cur:
            cur.execute("SELECT position FROM relay_position WHERE name = %s", (name,))
            row = cur.fetchone()
        return row[0] if row else 0

    def set(self, name, position):
        with self._lock, self._conn().cursor() as cur:
            cur.execute("INSERT INTO relay_position (name, position) VALUES (%s, %s) "
                        "ON CONFLICT (name) DO UPDATE SET position = excluded.position", (name, position))

    def hold_lease(self, name):
        """True while this instance may relay `name`; tries to take the lease when it does not."""
        with self._lock:
            try:
                conn = self._conn()
                if name in self._leases:
                    return True
                with conn.cursor() as cur:
                    cur.execute("SELECT pg_try_advisory_lock(hashtext(%s))", ("relay:" + name,))
                    if cur.fetchone()[0]:
                        self._leases.add(name)
                        return True
            except Exception:  # the database is away: no lease; the caller retries
                self._db = None
            return False

    def close(self):
        with self._lock:
            if self._db is not None and not self._db.closed:
                self._db.close()

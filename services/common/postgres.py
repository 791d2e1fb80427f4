"""PostgreSQL for scale-out (EVENT_STORE=postgres): eventsourcing-sqlalchemy over psycopg2.

Measured on this platform: the library's own psycopg 3 module hangs under eventlet, psycopg2 made
green by psycogreen works. The patch must be applied before the first connection.
"""
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
                except psycopg2.errors.DuplicateDatabase:  # another instance won the race
                    pass
    finally:
        conn.close()

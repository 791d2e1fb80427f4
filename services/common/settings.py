"""Where things live and which keys are used: one place, read from the environment.

Secrets come from the environment (EPORT_CIPHER_KEY, EPORT_INDEX_KEY, EPORT_TOKEN_SECRET), checked
by services/common/secret_rules.py: a service refuses to start with a missing, placeholder, short
or reused one. Only with EPORT_ENV=development (`make run`, the tests) are missing ones generated
once into var/dev-secrets.json, so that every process of the platform, and its restarts, agree.
"""
import base64
import json
import os
import secrets
from pathlib import Path

from .secret_rules import StartRefused, check_secret  # noqa: F401 (StartRefused: for the callers)

REPO_ROOT = Path(__file__).resolve().parents[2]

_SECRET_NAMES = {
    "EPORT_CIPHER_KEY": lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
    "EPORT_INDEX_KEY": lambda: secrets.token_hex(32),
    "EPORT_TOKEN_SECRET": lambda: secrets.token_hex(32),
}


def var_dir():
    path = Path(os.environ.get("EPORT_VAR") or REPO_ROOT / "var")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _dev_secrets():
    path = var_dir() / "dev-secrets.json"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process is writing it right now
            text = path.read_text()
            if text:
                return json.loads(text)
            import time; time.sleep(0.05)
        raise RuntimeError(f"{path} stays empty")
    values = {name: make() for name, make in _SECRET_NAMES.items()}
    with os.fdopen(fd, "w") as f:
        json.dump(values, f)
    return values


def development():
    """EPORT_ENV=development: the embedded defaults (generated secrets, a development card CA)."""
    return os.environ.get("EPORT_ENV", "production") == "development"


def secret(name):
    value = os.environ.get(name)
    if development():
        return value or _dev_secrets()[name]
    check_secret(name, {other: os.environ.get(other) for other in _SECRET_NAMES})
    return value


def event_store_env(service_name):
    """The eventsourcing environment of one service's Application.

    EVENT_STORE=sqlite (default: var/<service>.db), memory (unit tests) or postgres
    (eventsourcing-sqlalchemy with psycopg2, green under eventlet; EVENT_STORE_URL, where
    `{service}` stands for the service name; default one database eport_<service> on localhost).
    """
    kind = os.environ.get("EVENT_STORE", "sqlite")
    env = {
        "CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
        "CIPHER_KEY": secret("EPORT_CIPHER_KEY"),
        "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor",
    }
    if kind == "memory":
        env["PERSISTENCE_MODULE"] = "eventsourcing.popo"
    elif kind == "sqlite":
        env["PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
        env["SQLITE_DBNAME"] = str(var_dir() / f"{service_name}.db")
        env["SQLITE_LOCK_TIMEOUT"] = "10"
    elif kind == "postgres":
        from .postgres import ensure_database, make_green
        make_green()
        url = os.environ.get("EVENT_STORE_URL") or \
            f"postgresql+psycopg2://postgres@localhost:5432/eport_{service_name}"
        url = url.replace("{service}", service_name)
        ensure_database(url)
        env["PERSISTENCE_MODULE"] = "eventsourcing_sqlalchemy"
        env["SQLALCHEMY_URL"] = url
    else:
        raise ValueError(f"EVENT_STORE={kind!r}: expected sqlite, memory or postgres")
    return env


def relay_positions(service_name):
    """Where the relay of a service keeps its position: beside its event store."""
    from .positions import PositionStore, PostgresPositionStore

    env = event_store_env(service_name)
    if env["PERSISTENCE_MODULE"] == "eventsourcing_sqlalchemy":
        return PostgresPositionStore(env["SQLALCHEMY_URL"])
    return PositionStore(var_dir() / f"{service_name}-relay.db")


def _positive(name, default, kind):
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected a positive number") from None
    if value <= 0:
        raise ValueError(f"{name}={raw!r}: expected a positive number")
    return value


def consumer_max_failures():
    """How often a consumer's handler may fail on one event before the event is parked in the
    consumer's dead-letter queue (EPORT_MAX_FAILURES, default 10)."""
    return _positive("EPORT_MAX_FAILURES", 10, int)


def consumer_retry_delay():
    """The first pause before a failed event is retried, doubling with each failure up to 60 s
    (EPORT_RETRY_DELAY seconds, default 1)."""
    return _positive("EPORT_RETRY_DELAY", 1.0, float)

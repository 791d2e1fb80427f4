"""The wiring of a service: where its event store, its relay's positions and its published log are,
made from the settings (services/common/settings.py) and nowhere else; cosmicpython's bootstrap.

`ServiceApplication` takes its store from `event_store_env`, `EventSourced` its relay's positions
from `relay_positions` and its published log from `published_log`; tests and tools (deploy/replay.py,
bench/) open the same ones by the same calls:

    env = event_store_env("card")                  # eventsourcing's environment: SQLite, memory, PostgreSQL
    positions = relay_positions("card")            # beside that store
    published = published_log("card", app, to_integration)   # None when off or in memory
    keys = person_keys("card")                     # its per-person keys (services/common/person_keys.py)
"""
import base64

from .secret_rules import StartRefused
from .settings import development, secret, setting, var_dir


def event_store_env(service_name):
    """The eventsourcing environment of one service's Application.

    EVENT_STORE=sqlite (default: var/<service>.db), memory (unit tests) or postgres
    (eventsourcing-sqlalchemy with psycopg2, green under eventlet; EVENT_STORE_URL, where
    `{service}` stands for the service name; default one database eport_<service> on localhost).
    """
    kind = setting("EVENT_STORE")
    env = {
        "CIPHER_TOPIC": "services.common.cipher:AESCipher",
        "CIPHER_KEY": secret("EPORT_CIPHER_KEY"),
        "COMPRESSOR_TOPIC": "services.common.compression:SmallAsIs",
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
        url = setting("EVENT_STORE_URL") or \
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


def published_log(service_name, app, to_integration):
    """The published log of a service (services/common/published.py), encrypted with its event
    store's cipher; None when EPORT_PUBLISHED_LOG is off, for a store in memory, or for one
    without a cipher (it would be in clear)."""
    from .event_keys import signer
    from .published import PublishedLog, code_fingerprint, stored_mark

    keep = setting("EPORT_PUBLISHED_LOG")
    if keep not in ("on", "off"):
        raise StartRefused(f"EPORT_PUBLISHED_LOG={keep!r}: expected on or off")
    if keep == "off" or setting("EVENT_STORE") == "memory" or app.mapper.cipher is None:
        return None
    return PublishedLog(var_dir() / f"{service_name}-published.db", app.mapper.cipher,
                        # signed with another key, its envelopes would not verify any more
                        f"{code_fingerprint(to_integration)} {signer(service_name).jwk['kid']}",
                        lambda position: stored_mark(app, position), keys=getattr(app.mapper, "keys", None))


_person_keys = {}  # (service, folder, KEK): one store per process, so that its cache is the one forgotten


def person_keys(service_name, *, cached=True):
    """The per-person keys of one service (services/common/person_keys.py), one instance per process:
    in EPORT_KEY_STORE (default EPORT_VAR/keys/<service>, development's alone), wrapped by EPORT_PII_KEK;
    in memory with EVENT_STORE=memory (unit tests). Outside development the folder must lie apart from
    EPORT_VAR and be the service user's alone, or the service does not start (key_store_rules.py).
    `cached` False: every use reads the store (keys that another process may discard at any time, the
    SMS outbox's)."""
    from .key_store_rules import check_key_store
    from .person_keys import CACHE_SIZE, PersonKeys

    kek = secret("EPORT_PII_KEK")
    if setting("EVENT_STORE") == "memory":
        folder = None
    else:
        folder = setting("EPORT_KEY_STORE") or var_dir() / "keys"
    known = (service_name, str(folder), kek, cached)
    if known not in _person_keys:
        if folder is not None and not development():
            check_key_store(folder, var_dir(), service_name, configured=bool(setting("EPORT_KEY_STORE")))
        keks = [base64.b64decode(k.strip()) for k in kek.split(",") if k.strip()]
        _person_keys[known] = PersonKeys(service_name, folder, keks, cache_size=CACHE_SIZE if cached else 0)
    return _person_keys[known]

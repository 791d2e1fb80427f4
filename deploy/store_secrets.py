"""Each service's store of its own: a PostgreSQL role with rights on its database alone, and an AES
key (EPORT_CIPHER_KEY) that no other service holds.

    python -m deploy.store_secrets generate --out deploy/stores [--host postgres]

writes, mode 0600:
- `<service>.env` for each service with a store: its EPORT_CIPHER_KEY and its EVENT_STORE_URL (its
  own role and password, its own database). Compose reads it as an env_file, Kubernetes as the
  secret eport-store-<service>: the shared secrets.env holds no store key.
- `init.sql`: as the PostgreSQL superuser, once (compose mounts it in the postgres image's
  docker-entrypoint-initdb.d; Kubernetes runs it in the Job eport-postgres-roles): for each service
  a LOGIN role that is no superuser and creates neither roles nor databases, its database owned by
  it, and CONNECT to that database taken from PUBLIC, so that no other role opens it.

Key rotation: docs/RELIABILITY.md, "Store keys". The gateway keeps no store: it gets neither.
"""
import argparse
import base64
import os
import secrets
from pathlib import Path

from psycopg2 import sql

from services.common.deployment import BACKENDS

STORES = BACKENDS  # every service but the gateway keeps an event store (audit: its log)


def role_name(service, prefix="eport"):
    return f"{prefix}_{service}"


def role_statements(service, password, prefix="eport"):
    """The SQL (psycopg2 `sql` objects) that makes `service`'s role and database, theirs alone."""
    role = sql.Identifier(role_name(service, prefix))
    database = sql.Identifier(role_name(service, prefix))
    return [
        sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
            role, sql.Literal(password)),
        sql.SQL("CREATE DATABASE {} OWNER {}").format(database, role),
        sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(database),
    ]


def new_cipher_key():
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _write(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def generate(out, host="postgres", port=5432):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["-- made by python -m deploy.store_secrets generate: one role and database per service"]
    for service in STORES:
        password = secrets.token_urlsafe(24)
        url = f"postgresql+psycopg2://{role_name(service)}:{password}@{host}:{port}/{role_name(service)}"
        _write(out / f"{service}.env", f"EPORT_CIPHER_KEY={new_cipher_key()}\nEVENT_STORE_URL={url}\n")
        for statement in role_statements(service, password):
            # quoting without a connection: identifiers and literals of ASCII, standard_conforming_strings on
            lines.append(_as_text(statement) + ";")
    _write(out / "init.sql", "\n".join(lines) + "\n")
    return out


def _as_text(composed):
    parts = []
    for part in composed.seq:
        if isinstance(part, sql.Identifier):
            parts.append('"' + part.strings[0].replace('"', '""') + '"')
        elif isinstance(part, sql.Literal):
            parts.append("'" + str(part.wrapped).replace("'", "''") + "'")
        else:
            parts.append(part.string)
    return "".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    made = sub.add_parser("generate", help="each service's store key and database role, and init.sql")
    made.add_argument("--out", default="deploy/stores")
    made.add_argument("--host", default="postgres", help="PostgreSQL's host name, as the services reach it")
    args = parser.parse_args(argv)
    print(f"wrote {generate(args.out, args.host)}: <service>.env and init.sql")


if __name__ == "__main__":
    main()

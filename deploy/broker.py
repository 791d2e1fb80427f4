"""Broker users of the platform: one per service, one for the gateway, one for the operators' tools,
each allowed only what deploy/broker_policy.py says.

    python -m deploy.broker setup        # on this machine's RabbitMQ (rabbitmqctl, as root): users
                                         # eport-<role> on AMQP_URI's vhost, nameko-rpc and the
                                         # <source>.events exchanges; their URIs in
                                         # var/broker-users.json (what `make run` and the e2e
                                         # tests' platform do)
    python -m deploy.broker remove       # deletes the users of a namespace
    python -m deploy.broker generate --out deploy/broker --host rabbitmq --tls
                                         # for compose / Kubernetes: definitions.json (RabbitMQ's
                                         # load_definitions: the users and the exchanges), one
                                         # <role>.env (AMQP_URI) per role, and
                                         # tls/ (a CA and the broker's certificate for --host)

Passwords are random, made once: a setup (a launcher's, a second instance's) or a generate finds
the ones its credentials file or <role>.env files hold and gives the users the same again, so adding
an instance never refuses the running ones (it did: every new connection of the running services
was refused, ACCESS_REFUSED). Only `rotate` makes new ones, deliberately. RabbitMQ stores only
their salted SHA-256.

    python -m deploy.broker rotate [--role identity ...]
                                         # new passwords for those roles (default: every role), on
                                         # the broker and in the credentials file; what runs keeps its
                                         # open connections, and a new one of a process still holding
                                         # the old password is refused (a 503, never a 500) until
                                         # that process is restarted with the file's URI
"""
import argparse
import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from kombu import Connection

from services.common.broker_addresses import addresses, each_address
from services.common.settings import setting, var_dir

from .broker_policy import ROLES, admin_exchanges, definitions, user_name

DEFAULT_NAMESPACE = "eport"


class BrokerSetupFailed(Exception):
    pass


def password_hash(password):
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password)), 4-byte salt."""
    salt = secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def vhost_of(amqp_uri):
    path = urlsplit(addresses(amqp_uri)[0]).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def with_credentials(amqp_uri, user, password):
    """`amqp_uri` as `user`: each address of a cluster's (services/common/broker_addresses.py)."""
    def one(uri):
        parts = urlsplit(uri)
        netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname}:{parts.port or 5672}"
        return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    return each_address(amqp_uri, one)


def _rabbitmqctl(*args, stdin=None, timeout=60):
    exe = shutil.which("rabbitmqctl")
    if not exe:
        raise BrokerSetupFailed("rabbitmqctl is not on this machine")
    done = subprocess.run([exe, *args], input=stdin, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise BrokerSetupFailed(f"rabbitmqctl {args[0]}: {(done.stderr or done.stdout).strip()[:300]}")
    return done.stdout


def _listed(what, vhost, field):
    return {entry[field] for entry in json.loads(_rabbitmqctl(what, "-p", vhost, "-q", "--formatter", "json") or "[]")}


def _wait_imported(vhost, users, exchanges, timeout=15):
    """import_definitions returns before the import is done (RabbitMQ 3.10); consumers may start
    as soon as setup returns, and bind only to exchanges that exist."""
    deadline = time.monotonic() + timeout
    while not (users <= _listed("list_topic_permissions", vhost, "user")
               and exchanges <= _listed("list_exchanges", vhost, "name")):
        if time.monotonic() > deadline:
            raise BrokerSetupFailed(f"the users of {sorted(users)} and the exchanges {sorted(exchanges)} "
                                    f"did not all appear in {timeout}s")
        time.sleep(0.1)


def namespace_for(amqp_uri):
    """Users are global in RabbitMQ: those of another vhost get names of their own."""
    vhost = vhost_of(amqp_uri)
    return DEFAULT_NAMESPACE if vhost == "/" else f"{DEFAULT_NAMESPACE}-{vhost}"


def kept_passwords(uris, namespace):
    """role -> password of the URIs a former setup or generate wrote (role -> AMQP URI), for the
    roles whose user is this namespace's."""
    kept = {}
    for role, uri in uris.items():
        parts = urlsplit(addresses(uri)[0])  # a cluster's addresses all carry the same user
        if role in ROLES and parts.password and unquote(parts.username or "") == user_name(namespace, role):
            kept[role] = unquote(parts.password)
    return kept


def _stored_uris(credentials_file):
    try:
        return json.loads(Path(credentials_file).read_text()) if credentials_file else {}
    except FileNotFoundError:
        return {}


def passwords_for(kept, rotate=()):
    """Every role's password: the one kept, else (or when rotated) a new one."""
    return {role: kept[role] if role in kept and role not in rotate else new_password() for role in ROLES}


def new_password():
    """A random password that does not begin with "-": rabbitmqctl reads such an argument as an option."""
    while (password := secrets.token_urlsafe(24)).startswith("-"):
        pass
    return password


def setup(amqp_uri=None, namespace=None, credentials_file=None, rotate=()):
    """Creates the users `<namespace>-<role>` with their permissions on the vhost of `amqp_uri`
    (again, with the passwords `credentials_file` keeps: made once, new only for the roles in
    `rotate`), and declares `nameko-rpc` and the `<source>.events` exchanges consumers bind to (they
    may not declare them: deploy/broker_policy.py); returns role -> that user's AMQP URI. Raises BrokerSetupFailed."""
    amqp_uri = amqp_uri or setting("AMQP_URI")
    namespace = namespace or namespace_for(amqp_uri)
    vhost = vhost_of(amqp_uri)
    passwords = passwords_for(kept_passwords(_stored_uris(credentials_file), namespace), rotate)
    defs = definitions(vhost, namespace, {role: password_hash(pw) for role, pw in passwords.items()})
    # on stdin: the node reads a file path itself, as its own user, and no file is left behind
    _rabbitmqctl("import_definitions", "--format", "json", stdin=json.dumps(defs))
    _wait_imported(vhost, {user["name"] for user in defs["users"]}, {ex["name"] for ex in defs["exchanges"]})
    uris = {role: with_credentials(amqp_uri, user_name(namespace, role), pw) for role, pw in passwords.items()}
    if credentials_file:
        _write_private(Path(credentials_file), json.dumps(uris, indent=1))
    return uris


def declare_exchanges(amqp_uri, ssl=None):
    """Declares `nameko-rpc` and the `<source>.events` exchanges consumers bind to over AMQP, as
    `amqp_uri`'s user (one that may configure them: a development broker's guest), where setup
    cannot run: what setup's definitions declare, before any service starts."""
    with Connection(amqp_uri, ssl=ssl) as conn:
        channel = conn.channel()
        for ex in admin_exchanges():
            ex(channel).declare()


def remove(namespace=DEFAULT_NAMESPACE):
    """Deletes the users of a namespace (in one rabbitmqctl call: each costs half a second)."""
    names = ",".join(f'<<"{user_name(namespace, role)}">>' for role in ROLES)
    _rabbitmqctl("eval", "lists:foreach(fun(U) -> rabbit_auth_backend_internal:delete_user(U, <<\"eport\">>) "
                         f"end, [{names}]).")


def generate(out, host, port, vhost="/", namespace=DEFAULT_NAMESPACE, tls=True):
    """definitions.json for the broker and one <role>.env (AMQP_URI=…) per role, under `out`; with
    `tls`, amqps URIs and tls/ (the services verify the broker with AMQP_SSL's ca_certs)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    passwords = passwords_for(kept_passwords(_env_uris(out), namespace))
    defs = definitions(vhost, namespace, {role: password_hash(pw) for role, pw in passwords.items()})
    _write_private(out / "definitions.json", json.dumps(defs, indent=1))
    base = f"{'amqps' if tls else 'amqp'}://{host}:{port}/{quote(vhost, safe='') if vhost != '/' else ''}"
    for role, password in passwords.items():
        uri = with_credentials(base, user_name(namespace, role), password)
        _write_private(out / f"{role}.env", f"AMQP_URI={uri}\n")
    if tls:
        from .broker_tls import write_tls
        write_tls(out / "tls", host, _write_private)
    return out


def _env_uris(out):
    """role -> AMQP_URI of the <role>.env files a former generate wrote under `out`."""
    uris = {}
    for role in ROLES:
        path = out / f"{role}.env"
        lines = path.read_text().splitlines() if path.exists() else []
        uris.update((role, line.split("=", 1)[1].strip()) for line in lines if line.startswith("AMQP_URI="))
    return uris


def _write_private(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_setup = sub.add_parser("setup", help="create the users on this machine's RabbitMQ")
    p_setup.add_argument("--amqp-uri", default=setting("AMQP_URI"))
    p_setup.add_argument("--namespace", help="user names' prefix (default: eport, or eport-<vhost>)")
    p_setup.add_argument("--credentials", default=str(var_dir() / "broker-users.json"))
    p_rotate = sub.add_parser("rotate", help="new passwords, on the broker and in the credentials file")
    p_rotate.add_argument("--amqp-uri", default=setting("AMQP_URI"))
    p_rotate.add_argument("--namespace", help="user names' prefix (default: eport, or eport-<vhost>)")
    p_rotate.add_argument("--credentials", default=str(var_dir() / "broker-users.json"))
    p_rotate.add_argument("--role", action="append", choices=ROLES, help="this role's (repeat; default: every role)")
    p_remove = sub.add_parser("remove", help="delete the users of a namespace")
    p_remove.add_argument("--namespace", default=DEFAULT_NAMESPACE)
    p_gen = sub.add_parser("generate", help="definitions.json and <role>.env files for compose / Kubernetes")
    p_gen.add_argument("--out", default="deploy/broker")
    p_gen.add_argument("--host", default="rabbitmq")
    p_gen.add_argument("--port", type=int, default=5671)
    p_gen.add_argument("--vhost", default="/")
    p_gen.add_argument("--namespace", default=DEFAULT_NAMESPACE)
    p_gen.add_argument("--tls", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    try:
        if args.command in ("setup", "rotate"):
            namespace = args.namespace or namespace_for(args.amqp_uri)
            rotated = (args.role or ROLES) if args.command == "rotate" else ()
            uris = setup(args.amqp_uri, namespace, args.credentials, rotate=rotated)
            print(f"broker users {', '.join(user_name(namespace, r) for r in uris)} on vhost "
                  f"{vhost_of(args.amqp_uri)}; their URIs in {args.credentials}"
                  + (f"; new passwords for {', '.join(rotated)}: restart those services" if rotated else ""))
        elif args.command == "remove":
            remove(args.namespace)
        else:
            out = generate(args.out, args.host, args.port, args.vhost, args.namespace, args.tls)
            print(f"wrote {out}/definitions.json and {', '.join(f'{r}.env' for r in ROLES)}")
    except BrokerSetupFailed as exc:
        raise SystemExit(f"broker setup failed: {exc}") from None


if __name__ == "__main__":
    main()

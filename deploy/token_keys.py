"""Identity's token keys (the PEM file EPORT_TOKEN_KEYS names; only identity mounts it) and their
rotation. The first key signs; every key in the file verifies and is published at
/.well-known/jwks.json.

    python -m deploy.token_keys new --file keys.pem       # a file with one fresh key
    python -m deploy.token_keys list --file keys.pem      # kid of each key, the signing one first
    python -m deploy.token_keys add --file keys.pem       # 1. a fresh key at the end: published, not signing
    python -m deploy.token_keys promote --file keys.pem   # 2. the newest key signs (the old one still verifies)
    python -m deploy.token_keys retire KID --file keys.pem  # 3. the old key, once a token's lifetime has passed

Restart (roll) identity after each step. Between 1 and 2 wait until every identity instance runs
with the new file, so any of them answers the gateways a set with the new key; gateways re-read
the set when a token names a kid they do not know, and every KEYS_MAX_AGE seconds
(gateway/sessions.py), so after step 3 the retired key stops verifying within that time.
"""
import argparse
import os
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from contracts.tokens import load_private_keys, new_private_pem, public_jwk
from services.common.settings import setting


def _pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def read(path):
    return load_private_keys(Path(path).read_text(encoding="ascii"))


def write(path, keys):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("".join(_pem(k) for k in keys))


def kids(keys):
    return [public_jwk(k.public_key())["kid"] for k in keys]


def new(path):
    if Path(path).exists():
        raise SystemExit(f"{path} exists; rotate with add / promote / retire")
    write(path, load_private_keys(new_private_pem()))


def add(path):
    write(path, read(path) + load_private_keys(new_private_pem()))


def promote(path):
    keys = read(path)
    if len(keys) < 2:
        raise SystemExit("only one key: add one first")
    write(path, [keys[-1], *keys[:-1]])


def retire(path, kid):
    keys = read(path)
    if kid not in kids(keys):
        raise SystemExit(f"no key {kid} in {path}")
    if kids(keys)[0] == kid:
        raise SystemExit(f"{kid} signs: promote another key first")
    write(path, [k for k in keys if public_jwk(k.public_key())["kid"] != kid])


def split_kid(argv):
    """The word after `retire` is the kid even when it begins with '-' (a base64url thumbprint may),
    which argparse would take for an option: (the other words, that kid or None)."""
    if len(argv) > 1 and argv[0] == "retire" and argv[1].startswith("-") \
            and argv[1].split("=")[0] not in ("--file", "-h", "--help"):
        return argv[:1] + argv[2:], argv[1]
    return argv, None


def main(argv=None):
    argv, dashed_kid = split_kid(list(sys.argv[1:] if argv is None else argv))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["new", "list", "add", "promote", "retire"])
    parser.add_argument("kid", nargs="?", help="the key to retire")
    parser.add_argument("--file", default=setting("EPORT_TOKEN_KEYS"), required=not setting("EPORT_TOKEN_KEYS"),
                        help="the key file (default: EPORT_TOKEN_KEYS)")
    args = parser.parse_args(argv)
    args.kid = dashed_kid or args.kid
    if args.command == "retire":
        if not args.kid:
            parser.error("retire needs the KID of the key")
        retire(args.file, args.kid)
    elif args.command != "list":
        {"new": new, "add": add, "promote": promote}[args.command](args.file)
    for i, kid in enumerate(kids(read(args.file))):
        print(f"{kid}  {'signs and verifies' if i == 0 else 'verifies'}")


if __name__ == "__main__":
    main()

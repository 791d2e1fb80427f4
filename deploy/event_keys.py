"""The event-signing keys of the publishing services (contracts/signatures.py): one Ed25519 key
each, which only that service holds (EPORT_EVENT_KEY), and the set of their public keys that every
consumer verifies with and the gateway serves at /.well-known/event-keys.json (EPORT_EVENT_KEYS).

    python -m deploy.event_keys generate --out deploy/event-keys   # <service>.env (EPORT_EVENT_KEY=…)
                                                                   # for each publisher, and public.json
    python -m deploy.event_keys add identity --out deploy/event-keys   # rotation, 1: a new key of identity,
                                                                       # published beside the old one
Rotation: `add`, roll every consumer and the gateway with the new public.json, then give the
service its new <service>.env; remove the old key from public.json once no event signed with it
is to be replayed (the published logs forget what another key signed: services/common/settings.py).
"""
import argparse
import base64
import json
import os
import secrets
from pathlib import Path

from contracts.signatures import Signer, private_key_of
from services.common.event_keys import PUBLISHERS


def _write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _new_key(out, source):
    seed = secrets.token_bytes(32)
    _write_private(out / f"{source}.env", f"EPORT_EVENT_KEY={base64.b64encode(seed).decode()}\n")
    return Signer(source, private_key_of(seed)).jwk


def generate(out, sources=PUBLISHERS):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    keys = [_new_key(out, source) for source in sources]
    (out / "public.json").write_text(json.dumps({"keys": keys}, indent=1) + "\n")
    return out


def add(out, source):
    out = Path(out)
    public = json.loads((out / "public.json").read_text())
    public["keys"].append(_new_key(out, source))
    (out / "public.json").write_text(json.dumps(public, indent=1) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_generate = sub.add_parser("generate", help="a key for every publishing service")
    p_generate.add_argument("--out", default="deploy/event-keys")
    p_add = sub.add_parser("add", help="a new key of one service, published beside its old one")
    p_add.add_argument("source", choices=PUBLISHERS)
    p_add.add_argument("--out", default="deploy/event-keys")
    args = parser.parse_args(argv)
    if args.command == "generate":
        out = generate(args.out)
        print(f"wrote {out}/public.json and {', '.join(f'{s}.env' for s in PUBLISHERS)}")
    else:
        add(args.out, args.source)
        print(f"wrote a new {args.out}/{args.source}.env; its public key is added to {args.out}/public.json")


if __name__ == "__main__":
    main()

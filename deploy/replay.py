"""Kept for what `eport` does not do: rewinding a relay on this machine's SQLite stores.

    python -m deploy.replay status                  # an alias of `eport status`
    python -m deploy.replay rewind identity --to 0  # republish identity's events after position 0

Rewinding makes the running relay publish again every event after the position, to the service's
exchange and so to every subscriber, with the same event_ids: in-platform consumers ignore what
they already have. For one subscriber only, `eport replay SERVICE --to-queue QUEUE` (over AMQP).
Works on the embedded SQLite stores under var/ (EPORT_VAR); the service may keep running.
"""
import argparse
import sys

from services.common.positions import PositionStore
from services.common.settings import var_dir

from .launch import SERVICES


def relay_positions(service):
    path = var_dir() / f"{service}-relay.db"
    return PositionStore(path) if path.exists() else None


def rewind(service, to, out=sys.stdout):
    positions = relay_positions(service)
    if positions is None:
        raise SystemExit(f"no relay position for {service!r} under {var_dir()}")
    before = positions.get(f"{service}->amqp")
    if to < 0 or to > before:
        raise SystemExit(f"--to must be between 0 and the current position {before}")
    positions.set(f"{service}->amqp", to)
    print(f"{service}: relay position {before} -> {to}; {before - to} events will be published again",
          file=out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("status", help="an alias of `eport status`")
    rw = sub.add_parser("rewind", help="republish a service's events after a position")
    rw.add_argument("service", choices=[s for s in SERVICES if s != "gateway"])
    rw.add_argument("--to", type=int, default=0, help="position to go back to (0 = everything)")
    args = parser.parse_args(argv)
    if args.command == "status":
        from deploy.eport.cli import main as eport
        return eport(["status"])
    rewind(args.service, args.to)
    return 0


if __name__ == "__main__":
    sys.exit(main())

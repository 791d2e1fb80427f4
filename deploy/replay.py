"""Operators' tool: where each service's relay stands, and replaying an event stream.

    python -m deploy.replay status                  # every service: published / stored
    python -m deploy.replay rewind identity --to 0  # republish identity's events after position 0

Rewinding makes the running relay publish again every event after the position, with the same
event_ids, so in-platform consumers (and well-behaved subscribers) ignore what they already have,
while a new subscriber's fresh queue receives the whole history. Works on the embedded SQLite
stores under var/ (EPORT_VAR); the service may keep running.
"""
import argparse
import sqlite3
import sys

from services.common.positions import PositionStore
from services.common.settings import var_dir

from .launch import SERVICES


def stored_count(service):
    path = var_dir() / f"{service}.db"
    if not path.exists():
        return None
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        try:
            return db.execute("SELECT MAX(rowid) FROM stored_events").fetchone()[0] or 0
        except sqlite3.OperationalError:
            return 0


def relay_positions(service):
    path = var_dir() / f"{service}-relay.db"
    return PositionStore(path) if path.exists() else None


def status(out=sys.stdout):
    print(f"{'service':<12}{'published':>10}{'stored':>10}", file=out)
    for service in SERVICES:
        stored = stored_count(service)
        positions = relay_positions(service)
        if stored is None and positions is None:
            continue
        published = positions.get(f"{service}->amqp") if positions else 0
        print(f"{service:<12}{published:>10}{stored if stored is not None else '-':>10}", file=out)


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
    sub.add_parser("status", help="published and stored events of each service")
    rw = sub.add_parser("rewind", help="republish a service's events after a position")
    rw.add_argument("service", choices=[s for s in SERVICES if s != "gateway"])
    rw.add_argument("--to", type=int, default=0, help="position to go back to (0 = everything)")
    args = parser.parse_args(argv)
    if args.command == "status":
        status()
    else:
        rewind(args.service, args.to)


if __name__ == "__main__":
    main()

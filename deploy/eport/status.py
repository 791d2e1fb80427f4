"""`eport status`: per service, events stored and published and the relay's lag; per consumer
queue, the messages waiting and the dead letters."""
import json

from contracts.subscriptions import SUBSCRIPTIONS
from services.common.deadletters import dead_letter_queue_name

from .broker import call, connection, queue_depth, rpc
from .errors import OK, UNAVAILABLE, CommandError

SERVICES = ("identity", "enterprise", "card", "authz", "notify", "audit")


def gather():
    stores, down = [], []
    with rpc() as proxy:
        for service in SERVICES:
            try:
                answer = call(proxy, service, "ops_status")
            except CommandError as exc:
                down.append({"service": service, "error": str(exc)})
                continue
            stores += [dict(store, service=service) for store in answer["stores"]]
    with connection() as conn:
        queues = [{"queue": s.queue_name, "consumer": s.consumer, "source": s.source,
                   "waiting": queue_depth(conn, s.queue_name),
                   "dead_letters": queue_depth(conn, dead_letter_queue_name(s.queue_name)) or 0}
                  for s in SUBSCRIPTIONS]
    return stores, queues, down


def _cell(value):
    return "-" if value is None else value


def run(args, out):
    stores, queues, down = gather()
    if args.json:
        print(json.dumps({"stores": stores, "queues": queues, "unavailable": down}), file=out)
    else:
        print(f"{'service':<12}{'store':<14}{'stored':>9}{'published':>11}{'lag':>7}", file=out)
        for s in stores:
            print(f"{s['service']:<12}{s['store']:<14}{_cell(s['stored']):>9}{_cell(s['published']):>11}"
                  f"{_cell(s['lag']):>7}", file=out)
        for d in down:
            print(f"{d['service']:<12}unavailable: {d['error']}", file=out)
        print(f"\n{'consumer queue':<32}{'waiting':>9}{'dead letters':>14}", file=out)
        for q in queues:
            print(f"{q['queue']:<32}{_cell(q['waiting']):>9}{q['dead_letters']:>14}", file=out)
    return UNAVAILABLE if down else OK


def add_parser(sub):
    p = sub.add_parser("status", help="stores, relay lag, consumer queues and dead letters")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(run=run)

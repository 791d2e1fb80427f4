"""`eport status`: per service, events stored and published, the relay's lag and the positions its
published log keeps (replays and rebuilds read those instead of mapping them); per consumer queue,
the messages waiting and the dead letters."""
import json

from contracts.subscriptions import SUBSCRIPTIONS
from services.common.deadletters import dead_letter_queue_name
from services.common.deployment import BACKENDS as SERVICES

from .broker import answer, call_async, connection, queue_depth, rpc
from .errors import OK, UNAVAILABLE, CommandError

TIMEOUT = 5  # seconds: a running service answers at once; one that is down must not hold the rest


def gather():
    stores, down = [], []
    with rpc(TIMEOUT) as proxy:
        replies = {}
        for service in SERVICES:  # all asked at once, then the answers collected
            try:
                replies[service] = call_async(proxy, service, "ops_status")
            except Exception as exc:  # nameko refuses a service unknown to the broker at once
                replies[service] = exc
        for service, reply in replies.items():
            try:
                if isinstance(reply, Exception):
                    answer(proxy, service, "ops_status", _raiser(reply))
                got = answer(proxy, service, "ops_status", reply.result)
            except CommandError as exc:
                down.append({"service": service, "error": str(exc)})
                continue
            stores += [dict(store, service=service) for store in got["stores"]]
    with connection() as conn:
        queues = [{"queue": s.queue_name, "consumer": s.consumer, "source": s.source,
                   "waiting": queue_depth(conn, s.queue_name),
                   "dead_letters": queue_depth(conn, dead_letter_queue_name(s.queue_name)) or 0}
                  for s in SUBSCRIPTIONS]
    return stores, queues, down


def _raiser(exc):
    def result():
        raise exc
    return result


def _cell(value):
    return "-" if value is None else value


def run(args, out):
    stores, queues, down = gather()
    if args.json:
        print(json.dumps({"stores": stores, "queues": queues, "unavailable": down}), file=out)
    else:
        print(f"{'service':<12}{'store':<14}{'stored':>9}{'published':>11}{'lag':>7}{'kept':>9}", file=out)
        for s in stores:
            if s["store"] == "sms":  # notify's deliveries (services/notify/sms_delivery.py), not a store
                print(f"{s['service']:<12}SMS sent {s['sms_sent']}, retried {s['sms_retried']}, parked "
                      f"{s['sms_parked']} since start (EPORT_VAR/sms-parked.jsonl)", file=out)
                continue
            print(f"{s['service']:<12}{s['store']:<14}{_cell(s['stored']):>9}{_cell(s['published']):>11}"
                  f"{_cell(s['lag']):>7}{_cell(s.get('kept')):>9}", file=out)
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

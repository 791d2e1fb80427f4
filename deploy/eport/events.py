"""`eport events SERVICE`: a service's integration events, as its relay publishes them."""
import json

from services.common.deployment import PUBLISHERS

from .broker import call, rpc
from .errors import OK, usage

PAGE = 500


def stream(proxy, service, after=0, event_type=None, limit=None, page=PAGE):
    """Yields envelopes (each with its `position`) after position `after`, to the end of the log."""
    sent = 0
    while limit is None or sent < limit:
        want = page if limit is None else min(page, limit - sent)
        answer = call(proxy, service, "ops_events", after=after, limit=want, event_type=event_type)
        yield from answer["items"]
        sent += len(answer["items"])
        if answer["next"] >= answer["end"] or answer["next"] == after:
            return
        after = answer["next"]


def _line(item):
    return (f"{item['position']:>8}  {item['occurred_at']}  {item['event_type']:<24}  "
            f"aggregate {item['aggregate_id']}  {json.dumps(item['payload'], ensure_ascii=False, sort_keys=True)}")


def run(args, out):
    if args.start < 0 or not 1 <= args.limit <= 100000:
        raise usage("--from must be 0 or more and --limit from 1 to 100000")
    with rpc() as proxy:
        items = stream(proxy, args.service, args.start, args.event_type, args.limit)
        count = 0
        for item in items:
            print(json.dumps(item, ensure_ascii=False) if args.json else _line(item), file=out)
            count += 1
    if not count and not args.json:
        print("(no events)", file=out)
    return OK


def add_parser(sub):
    p = sub.add_parser("events", help="read a service's event stream")
    p.add_argument("service", choices=PUBLISHERS)
    p.add_argument("--from", dest="start", type=int, default=0, help="after this position (default 0: the start)")
    p.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    p.add_argument("--type", dest="event_type", help="only this event type, e.g. UserRegistered")
    p.add_argument("--json", action="store_true", help="one JSON envelope per line, with its position")
    p.set_defaults(run=run)

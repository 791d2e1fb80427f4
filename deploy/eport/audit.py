"""`eport audit`: the platform's audit log across enterprises, from the running audit service."""
import json

from .broker import call, rpc
from .errors import OK, usage


def print_table(items, out):
    if not items:
        print("(no events)", file=out)
        return
    for item in reversed(items):  # oldest first on screen, the newest last, next to the prompt
        payload = json.dumps(item["payload"], ensure_ascii=False, sort_keys=True)
        kind = f"{item['source']}.{item['event_type']}"
        print(f"{item['occurred_at']}  {kind:<32}  subject {item['subject']}  "
              f"actor {item['actor_user_id'] or '-'}  {payload}", file=out)


def fetch(auditor=False, **filters):
    filters = {k: v for k, v in filters.items() if v is not None}
    with rpc(auditor=auditor) as proxy:
        return call(proxy, "audit", "events", **filters)["items"]


def run(args, out):
    if not 1 <= args.limit <= 500:
        raise usage("--limit must be from 1 to 500")
    items = fetch(enterprise_id=args.enterprise, user_id=args.user, event_type=args.event_type,
                  correlation_id=args.correlation, since=args.since, until=args.until, limit=args.limit)
    if args.json:
        for item in items:
            print(json.dumps(item, ensure_ascii=False), file=out)
    else:
        print_table(items, out)
    return OK


def add_parser(sub):
    p = sub.add_parser("audit", help="query the audit log, any enterprise")
    p.add_argument("--enterprise", help="an enterprise id: what its administrator sees")
    p.add_argument("--user", help="a user id (subject or actor)")
    p.add_argument("--type", dest="event_type", help="an event type, e.g. UserLoggedIn")
    p.add_argument("--correlation", help="a correlation id (a request's X-Request-ID)")
    p.add_argument("--since", help="ISO 8601 with time zone, inclusive")
    p.add_argument("--until", help="ISO 8601 with time zone, exclusive")
    p.add_argument("--limit", type=int, default=20, help="at most this many (1 to 500; default 20)")
    p.add_argument("--json", action="store_true", help="one JSON object per line, newest first")
    p.set_defaults(run=run)

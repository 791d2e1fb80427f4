"""Auditors' and operators' tool: the platform's audit log, across enterprises, newest first.

    python -m deploy.audit                                   # the latest 20 events
    python -m deploy.audit --user USER_ID --since 2026-11-01T00:00:00+08:00
    python -m deploy.audit --enterprise ENTERPRISE_ID --type PermissionGranted --json
    python -m deploy.audit --correlation REQUEST_ID         # what one HTTP request caused

Asks the running audit service over RabbitMQ (AMQP_URI, default amqp://guest:guest@localhost:5672/),
so it works wherever the broker is reachable. --enterprise gives what that enterprise's
administrator sees (its events, and its members' account events from while they were members);
--user matches the person an event is about or who caused it. --json prints one envelope-like
object per line, for other tools.
"""
import argparse
import json
import os
import sys
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")  # expected; says nothing to an auditor
import eventlet  # noqa: E402

DEFAULT_AMQP_URI = "amqp://guest:guest@localhost:5672/"
TIMEOUT = 15  # seconds


def fetch(amqp_uri, **filters):
    from nameko.standalone.rpc import ClusterRpcProxy
    from nameko.exceptions import UnknownService

    from contracts.errors import ServiceError
    try:
        with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=TIMEOUT) as rpc:
            return rpc.audit.events(**filters)["items"]
    except UnknownService:
        raise SystemExit("the audit service has never run on this broker") from None
    except eventlet.Timeout:
        raise SystemExit(f"the audit service did not answer within {TIMEOUT} s") from None
    except ServiceError as exc:
        raise SystemExit(f"{exc.code}: {exc.message} {json.dumps(exc.details, ensure_ascii=False)}") from None


def print_table(items, out):
    if not items:
        print("(no events)", file=out)
        return
    for item in reversed(items):  # oldest first on screen, the newest last, next to the prompt
        payload = json.dumps(item["payload"], ensure_ascii=False, sort_keys=True)
        kind = f"{item['source']}.{item['event_type']}"
        print(f"{item['occurred_at']}  {kind:<32}  subject {item['subject']}  "
              f"actor {item['actor_user_id'] or '-'}  {payload}", file=out)


def main(argv=None, out=sys.stdout):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enterprise", help="an enterprise id")
    parser.add_argument("--user", help="a user id (subject or actor)")
    parser.add_argument("--type", dest="event_type", help="an event type, e.g. UserLoggedIn")
    parser.add_argument("--since", help="ISO 8601 with time zone, inclusive")
    parser.add_argument("--until", help="ISO 8601 with time zone, exclusive")
    parser.add_argument("--correlation", help="an X-Request-ID: only the events that request caused")
    parser.add_argument("--limit", type=int, default=20, help="at most this many (1 to 500; default 20)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line, newest first")
    args = parser.parse_args(argv)
    items = fetch(os.environ.get("AMQP_URI", DEFAULT_AMQP_URI), enterprise_id=args.enterprise, user_id=args.user,
                  event_type=args.event_type, since=args.since, until=args.until, limit=args.limit,
                  correlation_id=args.correlation)
    if args.json:
        for item in items:
            print(json.dumps(item, ensure_ascii=False), file=out)
    else:
        print_table(items, out)
    return 0


if __name__ == "__main__":
    eventlet.monkey_patch()  # nameko's standalone proxy is green
    sys.exit(main())

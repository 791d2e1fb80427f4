"""`eport erasures list [--json]` and `eport legal-hold add|remove USER_ID --reason TEXT`: operators follow
the erasures of personal data (shared/API.md "Personal data"; services/identity/erasures.py) and hold
an account's data for a legal reason, which refuses its erasure (409 LEGAL_HOLD) until lifted.

    eport erasures list
    eport legal-hold add 7c9e6679-7425-40de-944b-e07fc1f90ae7 --reason "法院协查函 (2026)京01协字第12号"

A hold placed or lifted is first recorded in the audit trail (OperatorActed, under the tool's broker
user), like every changing command of the tool.
"""

from .broker import call, record_operation, rpc
from .errors import OK
from .rows import print_rows


def _list(args, out):
    with rpc() as proxy:
        rows = call(proxy, "identity", "ops_erasures")
    print_rows(rows, out, args.json, _erasure_line, "(no erasure requests)")
    return OK


def _erasure_line(row):
    confirmed = ",".join(row["services_confirmed"]) or "-"
    status = row["status"] + (f" ({row['refusal']})" if row.get("refusal") else "")
    return (f"{row['erasure_id']}  user={row['user_id']}  {status}  requested={row['requested_at']}  "
            f"completed={row['completed_at'] or '-'}  confirmed={confirmed}")


def _hold(args, out):
    held = args.verb == "add"
    with rpc() as proxy:
        record_operation(f"legal-hold-{args.verb}", args.user_id, {"reason": args.reason}, proxy)
        state = call(proxy, "identity", "ops_legal_hold", args.user_id, held, args.reason)
    print(f"{state['user_id']}: {'held' if state['held'] else 'not held'}"
          f"{' (' + state['reason'] + ')' if state['reason'] else ''}", file=out)
    return OK


def add_parser(sub):
    p = sub.add_parser("erasures", help="the erasures of personal data people asked for")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    listing = verbs.add_parser("list", help="one line per request: pending, done or refused")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(run=_list)
    hold = sub.add_parser("legal-hold", help="hold an account's data for a legal reason: its erasure is refused")
    verbs = hold.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb, what in (("add", "place a hold"), ("remove", "lift the hold")):
        v = verbs.add_parser(verb, help=what)
        v.add_argument("user_id")
        v.add_argument("--reason", required=True, help="why (kept with the hold and in the audit trail)")
        v.set_defaults(run=_hold)

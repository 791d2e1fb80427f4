"""`eport rebuild PROJECTION`: reset a read model and rebuild it from the upstream streams while the
platform runs; the service that keeps it does the work (e.g. services/audit/rebuild.py), this
command starts it and follows it to the end."""
import time

from .broker import call, record_operation, rpc
from .errors import FAILED, OK, CommandError, usage
from .progress import Progress

# projection -> the service that keeps it
PROJECTIONS = {"audit-log": "audit", "inbox": "notify", "authz": "authz"}
POLL = 0.5  # seconds between progress questions
TIMEOUT = 3600  # seconds a rebuild may take before the command gives up following it


def follow(proxy, service, projection, out, page=None):
    state = call(proxy, service, "ops_rebuild", projection, "start", page)
    deadline = time.monotonic() + TIMEOUT
    with Progress(f"rebuild {projection}", None, out) as progress:
        while state["state"] == "running":
            if time.monotonic() > deadline:
                raise CommandError(f"the rebuild of {projection} still runs after {TIMEOUT} s; "
                                   f"`eport rebuild {projection}` again shows how it goes")
            time.sleep(POLL)
            state = call(proxy, service, "ops_rebuild", projection, "progress")
            ends = [e for e in state.get("ends", {}).values() if e is not None]
            if len(ends) == len(state.get("ends", {})) and progress.total is None:
                progress.set_total(sum(ends))
            progress.update(sum(state.get("positions", {}).values()) - progress.done)
    return state


def run(args, out):
    if args.page is not None and not 1 <= args.page <= 1000:
        raise usage("--page must be from 1 to 1000")
    with rpc() as proxy:
        record_operation("rebuild", args.projection, {"page": args.page}, proxy)
        state = follow(proxy, PROJECTIONS[args.projection], args.projection, out, args.page)
    if state["state"] != "done":
        raise CommandError(f"the rebuild of {args.projection} failed: {state.get('error')}", FAILED)
    print(f"rebuilt {args.projection} from {state['applied']} events in {state['seconds']} s "
          f"(positions {state['positions']})", file=out)
    return OK


def add_parser(sub):
    p = sub.add_parser("rebuild", help="reset a read model and rebuild it from the upstream streams")
    p.add_argument("projection", choices=sorted(PROJECTIONS))
    p.add_argument("--page", type=int, help="events per request to an upstream service (default 1000; "
                                              "smaller asks less of each at a time)")
    p.set_defaults(run=run)

"""eport: the operators' and auditors' tool for the running platform (over AMQP).

    eport status                                   every service's stores, relay lag, queues, dead letters
    eport events identity --from 0 --limit 20      a service's integration events, as published
    eport replay identity --to-queue crm.identity  history again, to that one queue only
    eport rebuild audit-log                        reset a read model and rebuild it while the platform runs
    eport audit --user USER_ID --correlation ID    the audit log, any enterprise
    eport dead-letters list|replay|drop            the messages consumers parked
    eport demo                                     the manual's story against the running platform
    eport clients add|list|remove                  business systems of single sign-on (OpenID Connect)
    eport erasures list [--json]                   the erasures of personal data, pending, done or refused
    eport legal-hold add|remove USER_ID --reason R hold an account's data: its erasure is refused

The broker is EPORT_AMQP_URI (the tool's own broker user), else AMQP_URI (default
amqp://guest:guest@localhost:5672/). With per-role broker users (deploy/broker.py) `eport audit`
runs as the auditor (it reads the audit trail and changes nothing), everything else as the
operator; each command that changes something (replay, rebuild, dead-letters replay|drop) is first
recorded in the audit trail under the tool's broker user, and does nothing when it cannot be.
Exit codes: 0 done, 1 failed, 2 a mistake in the command
(unknown queue, service, bad argument), 3 the broker or a service did not answer, 4 the broker
refused the tool's user, 130 interrupted.
"""
import argparse
import logging
import os
import sys
import warnings

from . import errors


def _parser():
    from . import audit, clients, deadletters, demo, erasures, events, rebuild, replay, status

    parser = argparse.ArgumentParser(prog="eport", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (status, events, replay, rebuild, audit, deadletters, demo, clients, erasures):
        module.add_parser(sub)
    return parser


def _import_eventlet_without_green_dns():
    """eventlet's green resolver (dnspython) is a third of the tool's start-up (0.4 s of 1.1 s);
    the few names the tool resolves can wait for the system's resolver. Only for this import: the
    processes the tool starts (the demo's card agent) get the environment as it was."""
    unset = "EVENTLET_NO_GREENDNS" not in os.environ
    if unset:
        os.environ["EVENTLET_NO_GREENDNS"] = "yes"
    try:
        import eventlet  # noqa: F401
    finally:
        if unset:
            del os.environ["EVENTLET_NO_GREENDNS"]


def main(argv=None, out=None):
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")  # says nothing to an operator
    _import_eventlet_without_green_dns()
    import eventlet
    eventlet.monkey_patch()  # nameko's standalone RPC proxy is green
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("amqp").setLevel(logging.ERROR)  # a refused RPC's basic.return is expected
    out = out or sys.stdout
    args = _parser().parse_args(argv)  # a usage mistake exits 2 with argparse's message
    import amqp.exceptions

    from .broker import BROKER_ERRORS
    try:
        return args.run(args, out)
    except BrokenPipeError:  # `eport events … | head`
        return errors.OK
    except amqp.exceptions.AccessRefused as exc:
        print(f"eport {args.command}: the broker refused this user: {exc}", file=sys.stderr)
        return errors.REFUSED
    except BROKER_ERRORS as exc:  # the broker went away in the middle of the command
        print(f"eport {args.command}: lost the broker: {exc}", file=sys.stderr)
        return errors.UNAVAILABLE
    except errors.CommandError as exc:
        print(f"eport {args.command}: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print(f"eport {args.command}: interrupted", file=sys.stderr)
        return errors.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())

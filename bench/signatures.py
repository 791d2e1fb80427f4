"""What proving an event's origin costs (contracts/signatures.py): per event, on the relay (mapping
plus signing) and on a consumer (reading the envelope plus verifying it), beside the same paths
unsigned, in one run.

    EPORT_ENV=development .venv/bin/python bench/signatures.py [--events 20000] [--rounds 3]

In-process, no broker: the relay's and the consumer's CPU per event, the part signing changes
(publishing and delivery cost the same either way: the signature adds about 130 bytes to a body).
Prints µs/event of each path, unsigned and signed, and the difference; the best of the rounds.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("EPORT_ENV", "development")
os.environ.setdefault("EPORT_VAR", tempfile.mkdtemp(prefix="bench-signatures-"))

from contracts.authz import PERMISSION_GRANTED  # noqa: E402
from contracts.envelope import make_envelope, read_envelope  # noqa: E402
from services.common.event_keys import signed, verified  # noqa: E402


def relay_unsigned(i):
    return make_envelope(PERMISSION_GRANTED, aggregate_id="3f2b1c52-8d3e-5a7b-a1c4-6e9f0d2b7a44",
                         aggregate_version=i + 1, occurred_at="2026-12-07T08:00:00.123456+00:00",
                         actor_user_id="6a1f0d2b-7a44-4c3e-9b1d-3f2b1c528d3e", correlation_id="req-1",
                         payload={"enterprise_id": "e7c20d2b-7a44-4c3e-9b1d-3f2b1c528d3e",
                                  "user_id": "91d40d2b-7a44-4c3e-9b1d-3f2b1c528d3e", "system": "manifest",
                                  "system_name": "舱单申报"})


def relay_signed(i):
    return signed(relay_unsigned(i))


def consume_unsigned(envelope):
    return read_envelope(envelope)


def consume_signed(envelope):
    read = read_envelope(envelope)
    verified(envelope, "authz")
    return read


def per_event(fn, inputs, rounds):
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for item in inputs:
            fn(item)
        best = min(best, (time.perf_counter() - start) / len(inputs))
    return best * 1e6


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    numbers = range(args.events)
    relay_signed(0)  # the key is made once, not in the measure
    envelopes = [relay_signed(i) for i in numbers]
    figures = {"relay (map + sign)": (per_event(relay_unsigned, numbers, args.rounds),
                                      per_event(relay_signed, numbers, args.rounds)),
               "consumer (read + verify)": (per_event(consume_unsigned, envelopes, args.rounds),
                                            per_event(consume_signed, envelopes, args.rounds))}
    print(f"{args.events} events, best of {args.rounds} rounds, µs per event")
    print(f"{'path':<26}{'unsigned':>10}{'signed':>10}{'cost':>10}")
    for path, (plain, proven) in figures.items():
        print(f"{path:<26}{plain:>10.1f}{proven:>10.1f}{proven - plain:>+10.1f}")


if __name__ == "__main__":
    main()

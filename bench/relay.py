"""How fast the relay publishes a backlog (a burst of events, or an operator's rewind), beside the
same relay waiting for the broker's confirm of each event before sending the next, in one run.

    .venv/bin/python bench/relay.py [--events 3000] [--rounds 2]

A temporary SQLite store (EPORT_VAR) and a RabbitMQ vhost of its own; one durable queue is bound
to the exchange, as a subscriber's would be, so the broker persists every event. Prints events
per second of each publisher and their ratio.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import warnings  # noqa: E402

warnings.simplefilter("ignore")

from eventsourcing.domain import Aggregate, event  # noqa: E402
from kombu import Connection  # noqa: E402
from marshmallow import Schema, fields  # noqa: E402

from bench.broker import Vhost  # noqa: E402
from contracts.envelope import make_envelope  # noqa: E402
from contracts.subscriptions import Subscription, queue  # noqa: E402
from tests.support import own_event_type, registered  # noqa: E402

SOURCE = "benchrelay"


class NotedPayload(Schema):
    text = fields.String(required=True)


NOTED = own_event_type(SOURCE, "Noted", NotedPayload, "benchmark event")
SINK = Subscription("benchsink", SOURCE, ("Noted",))  # registered while the bench runs, as a test's


class Note(Aggregate):
    @event("Written")
    def __init__(self, text):
        self.text = text


def to_integration(domain_event):
    yield make_envelope(NOTED, aggregate_id=domain_event.originator_id,
                        aggregate_version=domain_event.originator_version,
                        occurred_at=domain_event.timestamp, payload={"text": domain_event.text})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    var = tempfile.mkdtemp(prefix="eport-bench-relay-")
    os.environ["EPORT_VAR"] = var
    from services.common.application import ServiceApplication
    from services.common.positions import PositionStore
    from services.common.relay import AmqpPublisher, NotificationRelay

    class BenchApp(ServiceApplication):
        service_name = SOURCE

    class OneConfirmAtATime(AmqpPublisher):
        """The baseline: each event waits for its own confirm before the next is sent."""

        def publish_many(self, envelopes):
            for envelope in envelopes:
                super().publish_many([envelope])

    try:
        with registered(NOTED, subscriptions=[SINK]), \
                Vhost(os.environ.get("AMQP_URI", "amqp://guest:guest@localhost:5672/")) as amqp_uri:
            app = BenchApp()
            started = time.perf_counter()
            for i in range(args.events):
                app.save(Note(f"note {i}"))
            print(f"[bench] {args.events} events stored in {time.perf_counter() - started:.1f}s; "
                  f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
            positions = PositionStore(Path(var) / "relay.db")
            rates = {"one confirm at a time": [], "batch, then its confirms": []}
            with Connection(amqp_uri) as conn:
                sink = queue(SINK)(conn.channel())
                for rnd in range(args.rounds):
                    for name, cls in (("one confirm at a time", OneConfirmAtATime),
                                      ("batch, then its confirms", AmqpPublisher)):
                        positions.set("bench", 0)  # a rewind to the start
                        publisher = cls(amqp_uri, SOURCE)
                        relay = NotificationRelay(app, to_integration, publisher, positions, name="bench")
                        started = time.perf_counter()
                        while relay.run_once():
                            pass
                        took = time.perf_counter() - started
                        publisher.close()
                        queued = sink.queue_declare(passive=True).message_count
                        sink.purge()
                        assert queued == args.events, f"{queued} of {args.events} events reached the queue"
                        rates[name].append(args.events / took)
                        print(f"  round {rnd + 1}  {name:<26} {args.events / took:8.0f} events/s  "
                              f"({took:.2f}s; all {queued} in the durable queue)")
            base, batched = (max(r) for r in rates.values())
            print(f"[bench] summary: one confirm at a time {base:.0f}/s, batch then confirms {batched:.0f}/s "
                  f"(best of {args.rounds}): {batched / base:.1f}x")
    finally:
        shutil.rmtree(var, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The plumbing suites' demo: a service (DemoService) whose relay publishes `plumbingdemo` events and a
sink (SinkService) that consumes them idempotently, with the event types and the subscription they
register while a suite runs (`registered_demo()`), for tests/integration/test_plumbing.py (the worked
example) and test_quorum_queues.py."""
from eventsourcing.domain import Aggregate, event
from marshmallow import Schema, fields
from nameko.testing.services import entrypoint_hook

from contracts.envelope import make_envelope
from contracts.subscriptions import Subscription
from services.common.application import ServiceApplication
from services.common.dependency import EventSourced
from services.common.messaging import on_event
from services.common.rpc import rpc
from tests.support import own_event_type, registered, wait_for

SOURCE = "plumbingdemo"


class NotedPayload(Schema):
    text = fields.String(required=True)


NOTED = own_event_type(SOURCE, "Noted", NotedPayload)
UNHEARD = own_event_type(SOURCE, "Unheard", NotedPayload, "test event no queue takes")
SUBSCRIPTION = Subscription("plumbingsink", SOURCE, ("Noted",))


def registered_demo():
    """The demo's event types and its sink's subscription, registered while a suite runs."""
    return registered(NOTED, UNHEARD, subscriptions=[SUBSCRIPTION])


class Note(Aggregate):
    @event("Written")
    def __init__(self, text):
        self.text = text


class DemoApp(ServiceApplication):
    service_name = SOURCE

    def write(self, text):
        note = Note(text)
        self.save(note)
        return str(note.id)


def to_integration(domain_event):
    if isinstance(domain_event, Note.Written):
        yield make_envelope(NOTED, aggregate_id=domain_event.originator_id,
                            aggregate_version=domain_event.originator_version,
                            occurred_at=domain_event.timestamp, payload={"text": domain_event.text})


class DemoService:
    name = SOURCE
    app = EventSourced(DemoApp, to_integration, relay_idle_seconds=0.1)

    @rpc
    def write(self, text):
        return self.app.write(text)


class SinkApp(ServiceApplication):
    service_name = "plumbingsink"
    effects = []  # what the handler did, in order (class-level: shared with the test)
    fail_next = []

    def handle(self, envelope):
        if self.fail_next:
            self.fail_next.pop()
            raise RuntimeError("handler failure for the test")
        note = Note(envelope["payload"]["text"])
        if self.save_processed("plumbingsink", envelope["event_id"], note):
            self.effects.append(envelope["payload"]["text"])


class SinkService:
    name = "plumbingsink"
    app = EventSourced(SinkApp)

    @on_event("plumbingsink", SOURCE, retry_delay=0.1)
    def on_demo(self, envelope):
        self.app.handle(envelope)


def published_before_consumer_starts(container_factory, config, text):
    """Writes `text` and relays it with no consumer running, then starts one: the demo container."""
    demo = container_factory(DemoService, config)
    demo.start()
    with entrypoint_hook(demo, "write") as write:
        write(text)
    relay = next(d for d in demo.dependencies if isinstance(d, EventSourced)).relay
    wait_for(lambda: relay.pending() == 0)
    sink = container_factory(SinkService, config)
    sink.start()
    wait_for(lambda: SinkApp.effects == [text])
    return demo

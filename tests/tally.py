"""A store of tallies for the tests of reading a service's history (read_events, pages_of, the
published log): each Tally event makes `copies` envelopes, none or several, as a real mapping may."""
from eventsourcing.domain import Aggregate, event
from marshmallow import Schema, fields

from contracts.envelope import make_envelope
from services.common.application import ServiceApplication
from tests.support import own_event_type

NOTE = "机密-tally-7f3a"  # in every payload: a test can look for it in the raw files


class CountedPayload(Schema):
    n = fields.Integer(required=True)
    copy = fields.Integer(required=True)
    note = fields.String(required=True)


COUNTED = own_event_type("tallydemo", "Counted", CountedPayload)  # no consumer reads it: never registered


class Tally(Aggregate):
    @event("Counted")
    def __init__(self, n, copies):
        self.n, self.copies = n, copies


def to_integration(domain_event):
    for copy in range(domain_event.copies):
        yield make_envelope(COUNTED, aggregate_id=domain_event.originator_id, aggregate_version=copy + 1,
                            occurred_at=domain_event.timestamp,
                            payload={"n": domain_event.n, "copy": copy, "note": NOTE})


class Tallies(ServiceApplication):
    service_name = "tallydemo"

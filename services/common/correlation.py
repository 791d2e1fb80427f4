"""The correlation id of a stored event: the request that caused it, recorded with it.

An Application built with `CorrelatingMapper` stores, beside each domain event's own state, the
correlation id of the worker that saved it (services/common/context.py); the relay puts it into
the envelopes it makes of that event (`with_correlation`). In the stored state only: aggregates
never see it (eventsourcing passes an event's attributes to the decorated method by its
parameter names), so no domain class changes.
"""
from eventsourcing.persistence import Mapper

from . import context

ATTRIBUTE = "correlation_id"


class CorrelatingMapper(Mapper):
    def to_stored_event(self, domain_event):
        correlation_id = context.correlation_id()
        if correlation_id is not None and ATTRIBUTE not in vars(domain_event):
            # domain events are frozen dataclasses; this one is on its way to the store
            object.__setattr__(domain_event, ATTRIBUTE, correlation_id)
        return super().to_stored_event(domain_event)


def correlation_of(domain_event):
    return vars(domain_event).get(ATTRIBUTE)


def with_correlation(envelope, domain_event):
    """The envelope carrying the correlation id its domain event was stored with."""
    if envelope.get("correlation_id") is None and correlation_of(domain_event) is not None:
        return dict(envelope, correlation_id=correlation_of(domain_event))
    return envelope

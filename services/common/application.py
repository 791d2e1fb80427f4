"""The base of every service's eventsourcing Application, and the few helpers every application
uses the same way: loading an aggregate, retrying on a version conflict, consuming an event once.
"""
import logging
import time
import uuid

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError
from marshmallow import EXCLUDE, ValidationError

from contracts.errors import Conflict

from .commands import SavedOutsideTheRun, current, declared_commands
from .correlation import CorrelatingMapper
from .bootstrap import event_store_env, person_keys
from .postgres import creating_tables
from .sealing import SealingMapper, saving

log = logging.getLogger(__name__)

PROCESSED_NAMESPACE = uuid.UUID("0d7c2b0e-8a43-4b8f-9a52-3f0c1f6f2a10")
CONFLICT_TRIES = 8  # saves of one command before it answers 409 CONFLICT
MAX_ID_INPUT = 64  # longer is no aggregate id: not even parsed


def as_uuid(value):
    """The UUID an id given by a caller stands for, or None when it is none."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or len(value) > MAX_ID_INPUT:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def retry_on_conflict(attempt, *, tries=CONFLICT_TRIES, message="Changed by another request at the same "
                                                                 "moment; try again."):
    """`attempt()`'s answer; it is called again (it must load what it changes) while its save
    conflicts with another writer's (IntegrityError), at most `tries` times, then 409 CONFLICT."""
    for n in range(tries):
        try:
            return attempt()
        except IntegrityError:
            time.sleep(0.001 * (n + 1))  # green under eventlet: let the winner finish
    raise Conflict(message)


class ProcessedEvent(Aggregate):
    """Marks one integration event as handled by one consumer.

    Its id is derived from (consumer, event_id), so saving it together with the effect of the event
    makes the effect and the mark one transaction: a redelivered event conflicts and changes nothing.
    """

    @event("Processed")
    def __init__(self, consumer: str, event_id: str):
        self.consumer = consumer
        self.event_id = event_id

    @staticmethod
    def create_id(consumer: str, event_id: str):
        return uuid.uuid5(PROCESSED_NAMESPACE, f"{consumer}:{event_id}")


class StoreMapper(CorrelatingMapper, SealingMapper):
    """Correlation ids first (set on the event), then per-person sealing of a copy of its state."""


class ServiceApplication(Application):
    """An Application that tells listeners (the relay) when it has recorded events."""

    service_name = "service"

    def __init__(self, env=None):
        base = event_store_env(self.service_name)
        base.update(env or {})
        self._listeners = []
        if base["PERSISTENCE_MODULE"] == "eventsourcing_sqlalchemy":  # instances share the store: one at a time
            with creating_tables(base["SQLALCHEMY_URL"]):
                super().__init__(env=base)
        else:
            super().__init__(env=base)

    # The @command methods (services/common/commands.py) by name, and those declared resumable:
    # derived from the marks when a subclass is defined.
    commands = {}
    resumable_commands = frozenset()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.commands = declared_commands(cls)
        cls.resumable_commands = frozenset(name for name, d in cls.commands.items() if d.resumable)

    def save(self, *aggregates, **kwargs):
        """As eventsourcing's. Inside a command, only through its run (`run.save`): a save past it
        would store an effect without the command's record."""
        run = current(self)
        if run is not None and not run.saving:
            raise SavedOutsideTheRun(f"{run.method} saves without its run: use run.save(..., answer=...)")
        return super().save(*aggregates, **kwargs)

    def construct_mapper(self):
        # stores each event's correlation id with it (services/common/correlation.py), and seals each
        # personal field with its person's key (services/common/sealing.py)
        mapper = self.factory.mapper(transcoder=self.construct_transcoder(), mapper_class=StoreMapper)
        mapper.keys = person_keys(self.service_name)
        return mapper

    def _record(self, processing_event):
        with saving(processing_event.aggregates):  # an event naming no person takes its aggregate's
            return super()._record(processing_event)

    def on_recorded(self, listener):
        self._listeners.append(listener)

    def _notify(self, recordings):
        super()._notify(recordings)
        for listener in self._listeners:
            listener()

    # -- loading ----------------------------------------------------------------------------------
    def find(self, aggregate_id, cls):
        """The `cls` aggregate with this id (a UUID or its text), or None: unknown, malformed, or
        another kind of aggregate (a caller's id must not reach an aggregate of another type)."""
        aggregate_id = as_uuid(aggregate_id)
        if aggregate_id is None:
            return None
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None

    def load(self, aggregate_id, cls, not_found):
        """Like `find`, but raises `not_found` (the domain's error, e.g. EnterpriseNotFound(...))
        instead of answering None."""
        aggregate = self.find(aggregate_id, cls)
        if aggregate is None:
            raise not_found
        return aggregate

    # -- idempotent consumption -------------------------------------------------------------------
    def is_processed(self, consumer, event_id):
        """Whether `consumer` has handled the event; a failing store raises (it does not mean no)."""
        try:
            self.repository.get(ProcessedEvent.create_id(consumer, event_id))
        except AggregateNotFoundError:
            return False
        return True

    def save_processed(self, consumer, event_id, *aggregates):
        """Save the effect of an event together with its processed mark; False if it was a repeat."""
        mark = ProcessedEvent(consumer=consumer, event_id=event_id)
        try:
            self.save(mark, *aggregates)
        except IntegrityError:
            return False
        return True

    def consume(self, consumer, envelope, schema, effect, *, tries=CONFLICT_TRIES):
        """Apply one integration event once: `effect(payload)` changes aggregates it loads and
        returns them, and they are saved with the event's processed mark in one transaction.

        Returns False for a repeat, else whether the effect changed anything. A version conflict
        with another writer runs the effect again on fresh state (409 CONFLICT after `tries`, and the
        consumer requeues). A payload that does not fit `schema` (a marshmallow Schema or its class)
        would fail forever: it is recorded as processed and logged.
        """
        event_id = envelope["event_id"]
        try:
            payload = _schema(schema).load(envelope["payload"], unknown=EXCLUDE)
        except ValidationError as exc:
            log.error("ignoring %s %s with an invalid payload: %s", envelope.get("event_type"), event_id,
                      exc.messages)
            return self.save_processed(consumer, event_id)

        def attempt():
            if self.is_processed(consumer, event_id):
                return False
            aggregates = list(effect(payload))
            self.save(ProcessedEvent(consumer=consumer, event_id=event_id), *aggregates)
            return bool(aggregates)

        return retry_on_conflict(attempt, tries=tries,
                                 message=f"{envelope.get('event_type')} {event_id}: {tries} version conflicts")


def _schema(schema):
    return schema() if isinstance(schema, type) else schema

"""The base of every service's eventsourcing Application."""
import uuid

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from . import commands
from .correlation import CorrelatingMapper
from .settings import event_store_env

PROCESSED_NAMESPACE = uuid.UUID("0d7c2b0e-8a43-4b8f-9a52-3f0c1f6f2a10")


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


class ServiceApplication(Application):
    """An Application that tells listeners (the relay) when it has recorded events."""

    service_name = "service"

    def __init__(self, env=None):
        base = event_store_env(self.service_name)
        base.update(env or {})
        self._listeners = []
        super().__init__(env=base)

    def save(self, *aggregates, answer=commands.UNDECLARED, **kwargs):
        """As eventsourcing's; within a command of the gateway (services/common/commands.py) its
        record goes with the first save. `answer`: what the RPC entrypoint will return, declared
        before the save so that it is stored in the same transaction."""
        command = commands.current(self)
        record = command.for_save(answer) if command is not None else None
        recordings = super().save(*aggregates, *([record] if record is not None else []), **kwargs)
        if command is not None:
            command.saved(record, answer)
        return recordings

    def construct_mapper(self):
        # stores each event's correlation id with it (services/common/correlation.py)
        return self.factory.mapper(transcoder=self.construct_transcoder(), mapper_class=CorrelatingMapper)

    def on_recorded(self, listener):
        self._listeners.append(listener)

    def _notify(self, recordings):
        super()._notify(recordings)
        for listener in self._listeners:
            listener()

    # -- idempotent consumption -------------------------------------------------------------
    def is_processed(self, consumer, event_id):
        try:
            self.repository.get(ProcessedEvent.create_id(consumer, event_id))
        except Exception:  # AggregateNotFoundError
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

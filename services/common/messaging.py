"""Entrypoints and helpers on the consuming side of integration events."""
import logging
from functools import partial

import eventlet
from marshmallow import ValidationError
from nameko.exceptions import ContainerBeingKilled
from nameko.messaging import Consumer

from contracts.envelope import read_envelope
from contracts.subscriptions import queue, subscription

from .context import CORRELATION_ID

log = logging.getLogger(__name__)


class EventConsumer(Consumer):
    """Consumes one subscription queue of contracts/subscriptions.py.

    Unlike nameko's @event_handler default, a failing worker requeues its message (after a pause
    that doubles with each failure of the same event, up to `max_retry_delay`, so a persistent
    failure neither spins nor floods the log), and the queue is durable and declared by the
    publisher too, so nothing is dropped. A malformed envelope is acknowledged and logged: it
    would fail forever.
    """

    def __init__(self, consumer, source, retry_delay=1.0, max_retry_delay=60.0, **kwargs):
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self._failures = {}  # event_id -> consecutive failures of its handler
        super().__init__(queue(subscription(consumer, source)), requeue_on_error=True, **kwargs)

    def retry_pause(self, failures):
        return min(self.retry_delay * 2 ** (failures - 1), self.max_retry_delay)

    def handle_message(self, body, message):
        try:
            body = read_envelope(body)
        except ValidationError as exc:
            log.error("dropping malformed event on %s: %s", self.queue.name, exc.messages)
            self.queue_consumer.ack_message(message)
            return
        # nameko's Consumer.handle_message, with the event's correlation id as the worker's: the
        # events the handler causes carry it on
        context_data = self.unpack_message_headers(message)
        if body.get("correlation_id") is not None:
            context_data[CORRELATION_ID] = body["correlation_id"]
        try:
            self.container.spawn_worker(self, (body,), {}, context_data=context_data,
                                        handle_result=partial(self.handle_result, message))
        except ContainerBeingKilled:
            self.queue_consumer.requeue_message(message)

    def handle_message_processed(self, message, result=None, exc_info=None):
        event_id = message.properties.get("message_id") or message.delivery_tag
        if exc_info is not None:
            failures = self._failures[event_id] = self._failures.get(event_id, 0) + 1
            pause = self.retry_pause(failures)
            log.log(logging.WARNING if failures < 5 else logging.ERROR,
                    "handler of %s failed %d time(s) on event %s (%s); requeueing in %.1fs",
                    self.queue.name, failures, event_id, exc_info[1], pause)
            eventlet.sleep(pause)
        else:
            self._failures.pop(event_id, None)
        super().handle_message_processed(message, result, exc_info)


on_event = EventConsumer.decorator

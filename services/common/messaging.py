"""Entrypoints and helpers on the consuming side of integration events."""
import logging

import eventlet
from marshmallow import ValidationError
from nameko.messaging import Consumer

from contracts.envelope import read_envelope
from contracts.subscriptions import queue, subscription

log = logging.getLogger(__name__)


class EventConsumer(Consumer):
    """Consumes one subscription queue of contracts/subscriptions.py.

    Unlike nameko's @event_handler default, a failing worker requeues its message (after a short
    pause, so a persistent failure does not spin), and the queue is durable and declared by the
    publisher too, so nothing is dropped. A malformed envelope is acknowledged and logged: it
    would fail forever.
    """

    def __init__(self, consumer, source, retry_delay=1.0, **kwargs):
        self.retry_delay = retry_delay
        super().__init__(queue(subscription(consumer, source)), requeue_on_error=True, **kwargs)

    def handle_message(self, body, message):
        try:
            body = read_envelope(body)
        except ValidationError as exc:
            log.error("dropping malformed event on %s: %s", self.queue.name, exc.messages)
            self.queue_consumer.ack_message(message)
            return
        super().handle_message(body, message)

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is not None:
            log.warning("handler of %s failed (%s); requeueing", self.queue.name, exc_info[1])
            eventlet.sleep(self.retry_delay)
        super().handle_message_processed(message, result, exc_info)


on_event = EventConsumer.decorator

"""Entrypoints and helpers on the consuming side of integration events."""
import logging
from functools import partial

import eventlet
from marshmallow import ValidationError
from nameko.exceptions import ContainerBeingKilled
from nameko.messaging import Consumer

from contracts.envelope import read_envelope
from contracts.signatures import OriginNotProven
from contracts.subscriptions import queue, subscription

from .exchange_binding import BindsWithoutDeclaring
from .consuming import QueueConsumer
from .context import CORRELATION_ID
from .deadletters import Parker, failures_carried, traceback_summary
from .event_keys import key_set, verified
from .settings import consumer_max_failures, consumer_queue_type, consumer_retry_delay

log = logging.getLogger(__name__)


class EventQueueConsumer(BindsWithoutDeclaring, QueueConsumer):
    """nameko's queue consumer, but a message kombu cannot decode (not JSON, a content type
    nameko does not accept) is parked by its entrypoint instead of raising in the consume loop,
    which would stop every consumer of the service; and its queues bind to their sources'
    exchanges without declaring them (exchange_binding.py)."""

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            consumer.on_decode_error = partial(self._undecodable, provider)
        return consumers

    def _undecodable(self, provider, message, exc):
        provider.park_malformed(message, f"undecodable message: {exc}")


class EventConsumer(Consumer):
    """Consumes one subscription queue of contracts/subscriptions.py.

    Unlike nameko's @event_handler default, a failing worker puts its message back (after a pause
    that doubles with each failure of the same event, up to `max_retry_delay`, so a persistent
    failure neither spins nor floods the log), and the queue is durable and declared by the
    publisher too, so nothing is dropped. After `max_failures` failures of the same event
    (settings.consumer_max_failures) the message is parked in the queue's dead-letter queue
    (services/common/deadletters.py) with the reason, and the next events flow; a malformed
    message (not JSON, not an envelope) is parked at once: it would fail forever. The count of
    failures travels in the message's headers (`Parker.retry`), so a restart of the consumer does
    not reset it; only when the broker does not take the republished message is it requeued as it
    was, its count then kept here.
    `eport dead-letters` lists, replays and drops them.

    Only an envelope whose source's published key verifies its signature reaches the handler
    (contracts/signatures.py): whoever may put a message on the queue (an operator's replay, a
    dead letter put back) cannot speak for a service. Any other is parked, with why, unapplied.
    """

    queue_consumer = EventQueueConsumer()

    def __init__(self, consumer, source, retry_delay=None, max_retry_delay=60.0, max_failures=None, **kwargs):
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.max_failures = max_failures
        self._failures = {}  # event_id -> consecutive failures of its handler
        self.parker = None
        self.consumer, self.source = consumer, source
        # the queue is found when the service starts, not when its class is defined: a test's own
        # subscription is registered only while it runs (tests/support.py `registered`)
        super().__init__(None, requeue_on_error=True, **kwargs)

    def setup(self):
        self.queue = queue(subscription(self.consumer, self.source), consumer_queue_type())
        self.retry_delay = self.retry_delay or consumer_retry_delay()
        self.max_failures = self.max_failures or consumer_max_failures()
        key_set()  # refuses to start without the published keys, rather than park every event
        config = self.container.config
        self.parker = Parker(config["AMQP_URI"], self.queue.name, ssl=config.get("AMQP_SSL"))
        super().setup()

    def stop(self):
        super().stop()
        self.parker.close()

    def kill(self):
        super().kill()
        self.parker.close()

    def retry_pause(self, failures):
        return min(self.retry_delay * 2 ** (failures - 1), self.max_retry_delay)

    def handle_message(self, body, message):
        try:
            envelope = read_envelope(body)
            verified(body, self.source)  # as it came, before marshmallow read it
        except ValidationError as exc:
            self.park_malformed(message, f"not an envelope: {exc.messages}")
            return
        except OriginNotProven as exc:  # forged, altered or unsigned: never applied
            self.park_malformed(message, f"origin not proven: {exc}")
            return
        body = envelope
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

    def park_malformed(self, message, reason):
        self._park(message, reason, failures=0)

    def _park(self, message, reason, summary="", failures=0):
        try:
            self.parker.park(message, reason, summary, failures)
        except Exception as exc:  # the broker did not take it: keep the message where it is
            log.error("could not park a message of %s (%s); requeueing it", self.queue.name, exc)
            eventlet.sleep(self.max_retry_delay / 10)
            self.queue_consumer.requeue_message(message)
            return
        log.error("parked message %s of %s in its dead-letter queue after %d failure(s): %s",
                  message.properties.get("message_id") or "(no id)", self.queue.name, failures, reason)
        self.queue_consumer.ack_message(message)

    def handle_message_processed(self, message, result=None, exc_info=None):
        event_id = message.properties.get("message_id") or _event_id(message)
        if exc_info is None:
            self._failures.pop(event_id, None)
            return super().handle_message_processed(message, result, exc_info)
        failures = max(failures_carried(message.headers), self._failures.pop(event_id, 0)) + 1
        if failures >= self.max_failures:
            reason = f"handler failed {failures} times: {exc_info[0].__name__}: {exc_info[1]}"
            return self._park(message, reason, traceback_summary(exc_info), failures)
        pause = self.retry_pause(failures)
        log.log(logging.WARNING if failures < 5 else logging.ERROR,
                "handler of %s failed %d time(s) on event %s (%s); requeueing in %.1fs",
                self.queue.name, failures, event_id, exc_info[1], pause)
        eventlet.sleep(pause)
        try:
            self.parker.retry(message, failures)
        except Exception as exc:  # the broker did not take it: back as it is, the count kept here
            log.warning("could not put back message %s of %s with its count (%s); requeueing it",
                        event_id, self.queue.name, exc)
            self._failures[event_id] = failures
            return super().handle_message_processed(message, result, exc_info)
        self.queue_consumer.ack_message(message)


def _event_id(message):
    payload = message.payload
    return payload.get("event_id") if isinstance(payload, dict) else message.delivery_tag


on_event = EventConsumer.decorator

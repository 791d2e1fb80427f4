"""Publishes a service's notification log to its `<service>.events` exchange.

The outbox pattern: commands only write the event store; this relay reads the notification log
after its saved position, maps each stored domain event to zero or more integration events
(contracts/), publishes them with publisher confirms, and only then advances the position. A crash
anywhere in between republishes, never loses; consumers drop the repeat by its stable event_id.
"""
import logging

from kombu import Connection, Producer

from contracts.subscriptions import exchange, queue, subscriptions_of_source

log = logging.getLogger(__name__)


class AmqpPublisher:
    """Publishes envelopes to one source's exchange and waits for the broker's confirm of each."""

    def __init__(self, amqp_uri, source):
        self.amqp_uri = amqp_uri
        self.source = source
        self.exchange = exchange(source)
        self._conn = None
        self._producer = None

    def _ensure(self):
        if self._producer is None:
            self._conn = Connection(self.amqp_uri, transport_options={"confirm_publish": True})
            channel = self._conn.channel()
            self.exchange(channel).declare()
            # Declared here too so that events wait for consumers that have not started yet.
            for sub in subscriptions_of_source(self.source):
                queue(sub)(channel).declare()
            self._producer = Producer(channel, exchange=self.exchange, serializer="json")
        return self._producer

    def publish(self, envelope):
        # With confirm_publish, py-amqp's basic_publish blocks until the broker acks (raises on nack).
        self._ensure().publish(
            envelope, routing_key=envelope["event_type"], delivery_mode=2,
            message_id=envelope["event_id"],
            headers={"event_version": envelope["event_version"]},
        )

    def close(self):
        if self._conn is not None:
            try:
                self._conn.release()
            except Exception:  # the connection is already gone
                pass
        self._conn = self._producer = None


class NotificationRelay:
    def __init__(self, app, to_integration, publisher, positions, name=None, batch_size=100):
        self.app = app
        self.to_integration = to_integration
        self.publisher = publisher
        self.positions = positions
        self.name = name or f"{app.name}->amqp"
        self.batch_size = batch_size

    def run_once(self):
        """Publish the next batch; returns how many notifications it consumed."""
        position = self.positions.get(self.name)
        notifications = self.app.recorder.select_notifications(
            start=position, limit=self.batch_size, inclusive_of_start=False)
        confirmed = position
        try:
            for notification in notifications:
                domain_event = self.app.mapper.to_domain_event(notification)
                for envelope in self.to_integration(domain_event):
                    self.publisher.publish(envelope)
                confirmed = notification.id
        finally:
            # Once per batch (a synced write per event stalled every service); after a failure,
            # up to what the broker confirmed, so a retry republishes little.
            if confirmed != position:
                self.positions.set(self.name, confirmed)
        return len(notifications)

    def pending(self):
        return (self.app.recorder.max_notification_id() or 0) - self.positions.get(self.name)

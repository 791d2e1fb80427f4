"""Publishes a service's notification log to its `<service>.events` exchange.

The outbox pattern: commands only write the event store; this relay reads the notification log
after its saved position, maps each stored domain event to zero or more integration events
(contracts/), publishes them with publisher confirms, and only then advances the position. A crash
anywhere in between republishes, never loses; consumers drop the repeat by its stable event_id.
"""
import logging
import time

from kombu import Connection, Producer

from contracts.subscriptions import exchange, queue, subscriptions_of_source

from .event_keys import as_published
from .published import mark_of
from .settings import consumer_queue_type

log = logging.getLogger(__name__)


class PublishNotConfirmed(Exception):
    """The broker refused (nacked) a message, or did not confirm it in time."""


class AmqpPublisher:
    """Publishes envelopes to one source's exchange, persistent, in confirm mode.

    A batch is published without waiting between messages; then the broker's acks are awaited.
    Waiting for each message's ack before sending the next cost a broker round trip per event
    (bench/relay.py measures both). Acks may confirm many at once ("multiple") and may come out
    of order (a message no queue takes is confirmed before a persistent one that waits for the
    disk), so each tag is counted, not only the latest.
    """

    CONFIRM_TIMEOUT = 30  # seconds for the broker to confirm a batch

    def __init__(self, amqp_uri, source, ssl=None):
        self.amqp_uri = amqp_uri
        self.ssl = ssl  # AMQP_SSL of the nameko config: TLS options (deploy/config.yaml)
        self.source = source
        self.exchange = exchange(source)
        self._conn = None
        self._producer = None
        self._sent = 0  # delivery tags of this channel: the n-th message published is tag n
        self._acked = 0  # every tag up to this one is confirmed
        self._acked_ahead = set()  # tags above _acked confirmed one by one, out of order
        self._nacked = False

    def _ensure(self):
        if self._producer is None:
            self._conn = Connection(self.amqp_uri, ssl=self.ssl)
            channel = self._conn.channel()
            self.exchange(channel).declare()
            # Declared here too so that events wait for consumers that have not started yet.
            for sub in subscriptions_of_source(self.source):
                queue(sub, consumer_queue_type())(channel).declare()
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            self._sent, self._acked, self._acked_ahead, self._nacked = 0, 0, set(), False
            self._producer = Producer(channel, exchange=self.exchange, serializer="json")
        return self._producer

    def _on_ack(self, delivery_tag, multiple):
        if multiple:
            self._acked = max(self._acked, delivery_tag)
            self._acked_ahead = {tag for tag in self._acked_ahead if tag > self._acked}
        elif delivery_tag > self._acked:
            self._acked_ahead.add(delivery_tag)
        while self._acked + 1 in self._acked_ahead:
            self._acked += 1
            self._acked_ahead.discard(self._acked)

    def _on_nack(self, delivery_tag, multiple):
        self._nacked = True

    def publish_many(self, envelopes):
        """Publishes them in order and returns once the broker confirmed every one; raises
        PublishNotConfirmed (or a connection error) otherwise, and then nothing of the batch counts."""
        producer = self._ensure()
        for envelope in envelopes:
            producer.publish(envelope, routing_key=envelope["event_type"], delivery_mode=2,
                             message_id=envelope["event_id"],
                             headers={"event_version": envelope["event_version"]})
            self._sent += 1
        deadline = time.monotonic() + self.CONFIRM_TIMEOUT
        while self._acked < self._sent and not self._nacked:
            left = deadline - time.monotonic()
            if left <= 0:
                confirmed, sent = self._acked, self._sent
                self.close()  # late acks of this batch must not count for the next one
                raise PublishNotConfirmed(f"the broker confirmed {confirmed} of {sent} in time")
            try:
                self._conn.drain_events(timeout=left)
            except TimeoutError:
                pass
        if self._nacked:
            self.close()  # start the next attempt on a fresh channel
            raise PublishNotConfirmed("the broker refused a message")

    def publish(self, envelope):
        self.publish_many([envelope])

    def close(self):
        if self._conn is not None:
            try:
                self._conn.release()
            except Exception:  # the connection is already gone
                pass
        self._conn = self._producer = None


class NotificationRelay:
    """`published`: a PublishedLog (published.py) that keeps what was published, or None."""

    def __init__(self, app, to_integration, publisher, positions, name=None, batch_size=100, published=None):
        self.app = app
        self.published = published
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
        if not notifications:
            return 0
        envelopes, positions = [], []
        for notification in notifications:
            domain_event = self.app.mapper.to_domain_event(notification)
            for envelope in self.to_integration(domain_event):
                envelopes.append(as_published(envelope, domain_event))
                positions.append(notification.id)
        if envelopes:
            self.publisher.publish_many(envelopes)  # raises unless the broker confirmed them all
        # Once per batch (a synced write per event stalled every service), after the confirms.
        self.positions.set(self.name, notifications[-1].id)
        self._keep(position, notifications[-1], envelopes, positions)
        return len(notifications)

    def _keep(self, after, last, envelopes, positions):
        """What was published, into the published log (which logs what it fails to keep: a later
        replay maps those events again)."""
        if self.published is not None:
            self.published.put(after, last.id, [dict(e, position=p) for e, p in zip(envelopes, positions, strict=True)],
                               mark_of(last))

    def pending(self):
        return (self.app.recorder.max_notification_id() or 0) - self.positions.get(self.name)

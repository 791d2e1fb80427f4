"""Dead letters: where a consumer parks the messages it cannot handle, one queue per consumer queue.

The one place that names and declares them (reliability's queue type settings extend
`dead_letter_queue`). A consumer parks through a fanout exchange of the same name bound to the
queue, not through the default exchange: its broker user may then write there and nowhere else
(deploy/broker_policy.py), where the default exchange would let it write into any queue.

A parked message keeps its body, content type and `message_id` (the
event_id), and carries in its headers why it was parked (`x-eport-reason`), a short summary of the
traceback (`x-eport-traceback`), how often its handler failed (`x-eport-failures`) and where it came
from (`x-eport-queue`, `x-eport-routing-key`), so that `eport dead-letters replay` can put it back.

Before it is parked, a message whose handler failed goes back to the end of its queue carrying how
often it failed so far (`x-eport-failures`), republished through the retry exchange: a fanout
exchange of the queue's own name bound to that queue alone (the consumer's broker user may write
there: it bears the name of its queue). The count travels with the message, so a consumer that
restarts between the failures of a poison message goes on counting instead of starting at 0.
"""
import logging
import threading
import traceback
from datetime import UTC, datetime

from kombu import Connection, Exchange, Producer, Queue

from contracts.subscriptions import queue_arguments

from .settings import consumer_queue_type

log = logging.getLogger(__name__)

SUFFIX = ".dead-letters"
REASON = "x-eport-reason"
TRACEBACK = "x-eport-traceback"
FAILURES = "x-eport-failures"
QUEUE = "x-eport-queue"
ROUTING_KEY = "x-eport-routing-key"
PARKED_AT = "x-eport-parked-at"
HEADERS = (REASON, TRACEBACK, FAILURES, QUEUE, ROUTING_KEY, PARKED_AT)
MAX_REASON = 500
MAX_TRACEBACK = 1500

DEFAULT_EXCHANGE = Exchange("", type="direct")  # routing key = queue name: reaches that queue alone


def dead_letter_queue_name(queue_name):
    return queue_name + SUFFIX


def dead_letter_exchange(queue_name):
    return Exchange(dead_letter_queue_name(queue_name), type="fanout", durable=True, auto_delete=False)


def dead_letter_queue(queue_name):
    """The durable queue the messages of `queue_name` are parked in, bound only to its own
    dead-letter exchange, so no publisher's event reaches it; of the consumer queues' type."""
    return Queue(dead_letter_queue_name(queue_name), exchange=dead_letter_exchange(queue_name),
                 durable=True, auto_delete=False, queue_arguments=queue_arguments(consumer_queue_type()))


def retry_exchange(queue_name):
    """The exchange a failed message goes back to `queue_name` through, with its count of failures."""
    return Exchange(queue_name, type="fanout", durable=True, auto_delete=False)


def failures_carried(headers):
    """How often the handler failed on this message before, as its headers say (0 when they do not,
    or say something that is no count)."""
    count = (headers or {}).get(FAILURES)
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 0


def traceback_summary(exc_info, frames=4):
    """The exception and its innermost frames, short enough for a header (no locals, no source)."""
    exc_type, exc, tb = exc_info
    lines = [f"{f.filename.rsplit('/', 2)[-1] if f.filename else '?'}:{f.lineno} in {f.name}"
             for f in traceback.extract_tb(tb)[-frames:]]
    lines.append(f"{exc_type.__name__}: {exc}")
    return " | ".join(lines)[-MAX_TRACEBACK:]


def original_headers(headers):
    """A parked message's headers without what parking added."""
    return {k: v for k, v in (headers or {}).items() if k not in HEADERS}


class Parker:
    """Publishes the messages of one consumer queue to its dead-letter queue (`park`) or back to
    the queue with their count of failures (`retry`), with confirms.

    Its own connection (the consumer's channel only consumes); one publish at a time. Both raise
    when the broker did not take the message, and then the caller must not ack the original.
    """

    def __init__(self, amqp_uri, queue_name, ssl=None):
        self.amqp_uri = amqp_uri
        self.ssl = ssl  # AMQP_SSL of the nameko config: TLS options (deploy/config.yaml)
        self.queue_name = queue_name
        self.dead_letters = dead_letter_queue(queue_name)
        self._lock = threading.Lock()
        self._conn = None
        self._producer = None

    def declare(self):
        with self._lock:
            self._ensure()

    def _ensure(self):
        if self._producer is None:
            self._conn = Connection(self.amqp_uri, ssl=self.ssl)
            channel = self._conn.channel()
            self.dead_letters(channel).declare()
            retry = retry_exchange(self.queue_name)
            retry(channel).declare()
            channel.queue_bind(self.queue_name, exchange=retry.name, routing_key="")
            channel.confirm_select()  # py-amqp then waits for each publish's ack and raises on a nack
            self._producer = Producer(channel, exchange=self.dead_letters.exchange)
        return self._producer

    def park(self, message, reason, summary="", failures=0):
        headers = dict(original_headers(message.headers))
        headers.update({REASON: str(reason)[:MAX_REASON], TRACEBACK: summary, FAILURES: int(failures),
                        QUEUE: self.queue_name, ROUTING_KEY: message.delivery_info.get("routing_key", ""),
                        PARKED_AT: datetime.now(UTC).isoformat()})
        self._publish(message, headers, self.dead_letters.exchange.name, routing_key="")

    def retry(self, message, failures):
        """`message` again at the end of its queue, saying it failed `failures` times so far."""
        headers = dict(original_headers(message.headers), **{FAILURES: int(failures)})
        self._publish(message, headers, self.queue_name, routing_key=message.delivery_info.get("routing_key", ""))

    def _publish(self, message, headers, exchange, routing_key):
        properties = {k: message.properties[k] for k in ("message_id", "correlation_id", "type")
                      if message.properties.get(k)}
        with self._lock:
            for attempt in (1, 2):  # once more on a fresh connection if the broker dropped ours
                try:
                    self._ensure().publish(
                        message.body, exchange=exchange, routing_key=routing_key, delivery_mode=2,
                        headers=headers, content_type=message.content_type or "application/octet-stream",
                        content_encoding=message.content_encoding or "binary", **properties)
                    return
                except Exception:
                    self.close_unlocked()
                    if attempt == 2:
                        raise

    def close_unlocked(self):
        if self._conn is not None:
            try:
                self._conn.release()
            except Exception:  # already gone
                pass
        self._conn = self._producer = None

    def close(self):
        with self._lock:
            self.close_unlocked()

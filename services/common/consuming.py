"""The consume loop every consumer of a service shares (RPC requests and replies, events, the
gateway's broadcasts), made safe from a connection the broker has just reset.

A stopping RabbitMQ may reset its connections (the client reads ECONNRESET, not an AMQP close),
and a link that breaks does the same. A worker that finished in the moment between the reset and
the consume loop noticing it acks (or requeues) its message on that dead socket: the socket's own
error (ConnectionResetError, BrokenPipeError) came out of nameko's `ack_message`, which catches
py-amqp's ConnectionError only, ended the worker's thread, and nameko kills a container whose
thread ends with an error ("thread exited with error"): the service's process exited. Dropping
the ack loses nothing: the broker puts every message left unacknowledged on a lost connection back
in its queue, and consumers and command records make the redelivery harmless. The consume loop
reconnects by itself, and says so without the password of any broker address (nameko's line
hid the first one's only; a cluster's AMQP_URI names every node, services/common/broker_addresses.py).

A provider that says `auto_ack = True` (the gateway's RPC replies, services/common/rpc.py) is
consumed without acknowledgements (the broker counts a message delivered once sent: no ack to
send back, one socket write less per message), and its messages are handled in the consume loop
itself instead of a green thread each: its handler must be quick and never block.
"""
import logging

from nameko.messaging import QueueConsumer as NamekoQueueConsumer
from nameko.utils import sanitize_url

from .broker_addresses import each_address
from .outages import BROKER_ERRORS

log = logging.getLogger(__name__)


class QueueConsumer(NamekoQueueConsumer):
    def on_connection_error(self, exc, interval):
        # nameko's hides the first address's password only: a cluster's AMQP_URI names every node
        log.warning("Error connecting to broker at %s (%s); retrying in %s seconds",
                    each_address(self.amqp_uri, sanitize_url), exc, interval)

    def handle_message(self, provider, body, message):
        if getattr(provider, "auto_ack", False):
            provider.handle_message(body, message)
        else:
            super().handle_message(provider, body, message)

    def ack_message(self, message):
        self._settle(super().ack_message, message, "acknowledged")

    def requeue_message(self, message):
        self._settle(super().requeue_message, message, "requeued")

    def _settle(self, settle, message, what):
        try:
            settle(message)
        except BROKER_ERRORS as exc:
            log.warning("message %s of %s not %s: the broker connection is gone (%s); the broker delivers it again",
                        message.properties.get("message_id") or message.properties.get("correlation_id") or "(no id)",
                        message.delivery_info.get("routing_key"), what, exc)

"""Broadcasts: an event every instance of a service must hear, on a queue of the instance's own
(nameko's BROADCAST event handler: exclusive, deleted with its connection), believed only when its
source signed it (contracts/signatures.py): a forged one is logged and dropped. The gateway's session
revocations (gateway/sessions.py) and every service's forgetting of an erased person
(services/common/erasure.py) are these; each names the queue consumer its queues share."""
import logging

from nameko.events import EventHandler

from contracts.signatures import OriginNotProven

from .event_keys import key_set, verified

log = logging.getLogger(__name__)


class SignedBroadcast(EventHandler):
    def setup(self):
        key_set()  # refuses to start without the published event keys, rather than drop every event
        super().setup()

    def handle_message(self, body, message):
        envelope = body if isinstance(body, dict) else {}
        try:
            verified(envelope, self.source_service)
        except OriginNotProven as exc:
            log.error("dropped %s %s on %s: origin not proven (%s)", envelope.get("event_type"),
                      envelope.get("event_id"), self.queue.name, exc)
            self.queue_consumer.ack_message(message)
            return
        super().handle_message(body, message)

"""The inbox's own event-sourced Application (its store: var/notify-inbox.db)."""
from datetime import datetime, timezone

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from contracts import errors as e
from contracts.errors import ServiceError, ValidationFailed
from services.common.application import ServiceApplication

from .inbox_domain import Inbox, MessageNotFound, message_id_of
from .inbox_texts import notes_for

CONSUMER = "notify-inbox"
MARK_READ_ATTEMPTS = 3


class InboxConflict(Exception):
    """Another delivery changed the same inbox at the same time: the event must be tried again."""


class InboxApplication(ServiceApplication):
    service_name = "notify-inbox"

    def _inbox(self, user_id):
        try:
            return self.repository.get(Inbox.create_id(user_id=user_id))
        except AggregateNotFoundError:
            return None

    def deliver(self, envelope):
        """Put the messages of one integration event into their inboxes; once per event_id.

        Returns how many messages it added (0 for a repeat). Raises InboxConflict when a concurrent
        delivery of another event won the race for the same inbox: the consumer requeues.
        """
        event_id = envelope["event_id"]
        if self.is_processed(CONSUMER, event_id):
            return 0
        inboxes = {}
        for note in notes_for(envelope):
            inbox = inboxes.get(note.recipient_user_id) or self._inbox(note.recipient_user_id) \
                or Inbox(user_id=note.recipient_user_id)
            inbox.receive(message_id=message_id_of(event_id, note.recipient_user_id), kind=note.kind,
                          title=note.title, body=note.body, data=note.data, created_at=envelope["occurred_at"])
            inboxes[note.recipient_user_id] = inbox
        if self.save_processed(CONSUMER, event_id, *inboxes.values()):
            return len(inboxes)
        if self.is_processed(CONSUMER, event_id):
            return 0  # the same event, delivered twice at once: the other delivery stored it
        raise InboxConflict(event_id)

    def list_messages(self, user_id, unread_only=False):
        inbox = self._inbox(_user(user_id))
        messages = list(inbox.messages.values()) if inbox else []
        items = [dict(m) for m in reversed(messages) if not (unread_only and m["read"])]
        for item in items:
            item.pop("read_at", None)
        return {"items": items, "unread_count": inbox.unread_count if inbox else 0}

    def mark_read(self, user_id, message_id):
        user_id = _user(user_id)
        for _ in range(MARK_READ_ATTEMPTS):
            inbox = self._inbox(user_id)
            if inbox is None:
                raise MessageNotFound(message="No such message in your inbox.",
                                      details={"message_id": ["No message with this id in your inbox."]})
            inbox.mark_read(message_id, datetime.now(timezone.utc).isoformat())
            try:
                self.save(inbox)
                return None
            except IntegrityError:
                continue  # a message arrived meanwhile: load again
        raise ServiceError(e.CONFLICT, "The inbox changed meanwhile; try again.")


def _user(user_id):
    if not isinstance(user_id, str) or not user_id:
        raise ValidationFailed({"user_id": ["A user id is required."]})
    return user_id

"""The inbox's own event-sourced Application (its store: var/notify-inbox.db, notify's only one:
it also holds the command records of the SMS that identity hands over)."""
import time

from eventsourcing.persistence import IntegrityError

from contracts import validators
from contracts.pages import page_of, scope_tag, sortable_time
from contracts.times import iso_of_epoch
from contracts.validators import check_field
from contracts import errors as e
from contracts.errors import ServiceError
from services.common.application import MAX_ID_INPUT, ServiceApplication, retry_on_conflict
from services.common.personal_data import plain
from services.common.commands import command

from .domain import Inbox, MessageNotFound, message_id_of
from .inbox_texts import notes_for

CONSUMER = "notify-inbox"


class InboxConflict(Exception):
    """Another delivery changed the same inbox at the same time: the event must be tried again."""


class InboxApplication(ServiceApplication):
    service_name = "notify-inbox"

    def __init__(self, env=None, *, clock=time.time):
        super().__init__(env)
        self.clock = clock  # epoch seconds

    def _inbox(self, user_id):
        return self.find(Inbox.create_id(user_id=user_id), Inbox)

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

    @command(resumable=True)
    def send_sms(self, run, send):
        """`send()` an SMS handed over under a command id once: its command record is saved first,
        so that a repeat (identity's resumed hand-off, the broker's redelivery) finds it and does
        not send again; the answer (none) follows the send (services/common/commands.py). A run
        resuming one that died after this save sends: the SMS may have gone, but once more is better
        than never."""
        if run.recording and not run.resuming:
            try:
                run.save()  # the record alone
            except IntegrityError:  # a twin of this hand-off recorded it first: its answer is this one's
                raise ServiceError(e.IDEMPOTENCY_KEY_IN_USE, "This SMS is being sent.") from None
        send()

    def list_messages(self, user_id, unread_only=False, limit=None, cursor=None):
        """One page of the user's messages, newest first (contracts/pages.py); `unread_count`
        counts every unread one, not the page's."""
        user_id = _user(user_id)
        inbox = self._inbox(user_id)
        messages = [m for m in (inbox.messages.values() if inbox else ()) if not (unread_only and m["read"])]
        page = page_of(messages, _newest_first, scope=scope_tag("messages", user_id), limit=limit, cursor=cursor,
                       newest_first=True)
        page["items"] = [{k: v for k, v in m.items() if k != "read_at"} for m in page["items"]]
        return {**page, "unread_count": inbox.unread_count if inbox else 0}

    def personal_data(self, user_id):
        """notify's part of a person's export: every message of their inbox, read or not, oldest first."""
        inbox = self._inbox(_user(user_id))
        return {"inbox": plain(list(inbox.messages.values()) if inbox else [])}

    @command
    def mark_read(self, run, user_id, message_id):
        user_id = _user(user_id)

        def attempt():  # a message arrived meanwhile: load again
            inbox = self._inbox(user_id)
            if inbox is None:
                raise MessageNotFound(message="No such message in your inbox.",
                                      details={"message_id": ["No message with this id in your inbox."]})
            inbox.mark_read(message_id, iso_of_epoch(self.clock()))
            run.save(inbox, answer=None)  # the RPC answers nothing (204)

        retry_on_conflict(attempt, message="The inbox changed meanwhile; try again.")


def named(envelope, peers):
    """`envelope` with its enterprise's name in the payload, for the message's words: authz's events
    carry only the enterprise's id. `peers.enterprise_name(enterprise_id)` (services/notify/peers.py)
    answers the name or None."""
    p = envelope.get("payload") or {}
    if envelope.get("source") != "authz" or p.get("enterprise_name") or not isinstance(p.get("enterprise_id"), str):
        return envelope
    return dict(envelope, payload=dict(p, enterprise_name=peers.enterprise_name(p["enterprise_id"])))


_user_id = validators.string(MAX_ID_INPUT)


def _newest_first(message):
    return sortable_time(message["created_at"]), message["message_id"]


def _user(user_id):
    return check_field("user_id", _user_id, user_id)

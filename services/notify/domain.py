"""The message inbox of one user: an aggregate per user holding that user's messages.

A message's id is derived from the integration event that caused it and its recipient, so the
same event delivered twice can never make a second message, even without the processed mark.
"""
import uuid

from eventsourcing.domain import Aggregate, event

from contracts import errors as e
from contracts.errors import DomainError
from services.common.sealing import OWNER, PersonalData

INBOX_NAMESPACE = uuid.UUID("b4a7c1e2-5d3f-4e8a-9c6b-1f2d3e4a5b6c")


class MessageNotFound(DomainError):
    code = e.MESSAGE_NOT_FOUND


def message_id_of(event_id, recipient_user_id):
    return str(uuid.uuid5(INBOX_NAMESPACE, f"message:{event_id}:{recipient_user_id}"))


class Inbox(PersonalData, Aggregate):
    personal_events = {"MessageReceived": {"title": OWNER, "body": OWNER, "data": OWNER}}
    personal_state = {"messages": OWNER}

    @staticmethod
    def create_id(user_id: str):
        return uuid.uuid5(INBOX_NAMESPACE, f"inbox:{user_id}")

    @event("Opened")
    def __init__(self, *, user_id):
        self.user_id = user_id
        self.messages = {}  # message_id -> message dict, in order of arrival

    def has(self, message_id):
        return message_id in self.messages

    def receive(self, *, message_id, kind, title, body, data, created_at):
        if not self.has(message_id):
            self._received(message_id=message_id, kind=kind, title=title, body=body, data=data,
                           created_at=created_at)

    @event("MessageReceived")
    def _received(self, message_id, kind, title, body, data, created_at):
        self.messages[message_id] = {"message_id": message_id, "kind": kind, "title": title, "body": body,
                                     "data": dict(data), "created_at": created_at, "read": False}

    def check_message(self, message_id):
        if not self.has(message_id):
            raise MessageNotFound(message="No such message in your inbox.",
                                  details={"message_id": ["No message with this id in your inbox."]})

    def mark_read(self, message_id, read_at):
        self.check_message(message_id)
        if not self.messages[message_id]["read"]:
            self._read(message_id=message_id, read_at=read_at)

    @event("MessageRead")
    def _read(self, message_id, read_at):
        self.messages[message_id]["read"] = True
        self.messages[message_id]["read_at"] = read_at

    @property
    def unread_count(self):
        return sum(1 for m in self.messages.values() if not m["read"])

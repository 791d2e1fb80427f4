"""Inbox entrypoints of the notify service: enterprise events in, the users' messages out."""
from services.common.dependency import EventSourced
from services.common.messaging import on_event
from services.common.rpc import rpc

from .inbox_application import InboxApplication


class InboxEntrypoints:
    # Its own store; publishes nothing, so no relay.
    inbox = EventSourced(InboxApplication, to_integration=None)

    @on_event("notify", "enterprise")
    def on_enterprise_event(self, envelope):
        self.inbox.deliver(envelope)

    @rpc
    def list_messages(self, user_id, unread_only=False):
        return self.inbox.list_messages(user_id, bool(unread_only))

    @rpc
    def mark_read(self, user_id, message_id):
        return self.inbox.mark_read(user_id, message_id)

"""Inbox entrypoints of the notify service: enterprise (and identity) events in, the users' messages out."""
from services.common.messaging import on_event
from services.common.operations import Rebuilding
from services.common.rpc import rpc
from services.common.swap import SwappableEventSourced

from .inbox_application import InboxApplication
from .inbox_rebuild import InboxRebuild


class InboxStore(Rebuilding, SwappableEventSourced):
    """The inbox's own store (it publishes nothing, so no relay), rebuilt by `eport rebuild inbox`."""

    rebuildable_projections = ("inbox",)

    def make_rebuild(self, fetch, page):
        return InboxRebuild(self, fetch, page)


class InboxEntrypoints:
    inbox = InboxStore(InboxApplication, to_integration=None)

    @on_event("notify", "enterprise")
    def on_enterprise_event(self, envelope):
        self.inbox.deliver(envelope)

    @on_event("notify", "identity")
    def on_identity_event(self, envelope):  # UserSuperseded (实名认证)
        self.inbox.deliver(envelope)

    @rpc
    def list_messages(self, user_id, unread_only=False):
        return self.inbox.list_messages(user_id, bool(unread_only))

    @rpc
    def mark_read(self, user_id, message_id):
        return self.inbox.mark_read(user_id, message_id)

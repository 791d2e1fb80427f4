"""The notify service: SMS delivery (RPC from identity only, sms_entrypoints.py) and the users'
message inbox: enterprise (identity, authz) events in, the users' messages out."""
from services.common.erasure import ErasureFollower, ForgetsErased
from services.common.messaging import on_event
from services.common.operations import Operated, Rebuilding
from services.common.rpc import RpcProxy, rpc
from services.common.swap import SwappableEventSourced

from .application import InboxApplication, named
from .peers import Peers
from .rebuild import InboxRebuild
from .sms_entrypoints import SmsEntrypoints


class InboxStore(Rebuilding, SwappableEventSourced):
    """The inbox's own store (it publishes nothing, so no relay), rebuilt by `eport rebuild inbox`."""

    rebuildable_projections = ("inbox",)

    def make_rebuild(self, fetch, page):
        return InboxRebuild(self, fetch, page, Peers(fetch.proxy.enterprise))


class InboxEntrypoints(ForgetsErased):
    inbox = InboxStore(InboxApplication, to_integration=None)
    enterprise = RpcProxy("enterprise")
    identity = RpcProxy("identity")
    erasure = ErasureFollower("notify")

    @on_event("notify", "enterprise")
    def on_enterprise_event(self, envelope):
        self.inbox.deliver(envelope)

    @on_event("notify", "authz")
    def on_authz_event(self, envelope):
        self.inbox.deliver(named(envelope, Peers(self.enterprise)))

    @on_event("notify", "identity")
    def on_identity_event(self, envelope):  # UserSuperseded (实名认证); UserErased (services/common/erasure.py)
        if not self.erasure.erase(envelope, self.identity):
            self.inbox.deliver(envelope)

    @rpc
    def list_messages(self, user_id, unread_only=False, limit=None, cursor=None):
        return self.inbox.list_messages(user_id, bool(unread_only), limit, cursor)

    @rpc
    def personal_data(self, user_id):
        """Its part of a person's export; only the gateway asks, with the user id of a verified token."""
        return self.inbox.personal_data(user_id)

    @rpc
    def mark_read(self, user_id, message_id):
        return self.inbox.mark_read(user_id, message_id)


class NotifyService(SmsEntrypoints, InboxEntrypoints, Operated):
    name = "notify"

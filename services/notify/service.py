"""The notify service: SMS delivery (RPC from identity only) and the users' message inbox."""
from services.common.operations import Operated
from services.common.rpc import rpc

from .sms_entrypoints import SmsEntrypoints
from .inbox_entrypoints import InboxEntrypoints


class NotifyService(SmsEntrypoints, InboxEntrypoints, Operated):
    name = "notify"

    @rpc
    def ping(self):
        return "pong"

"""The inbox suites' parts: notify's inbox as a service of its own (RebuiltNotify), upstream stand-ins
answering ops_events from the envelopes a test gives them, publishing signed envelopes, reading an
inbox. For test_inbox_rebuild.py and test_permission_messages.py."""
from kombu import Connection, Producer

from contracts import errors as e
from contracts.errors import ServiceError
from contracts.subscriptions import exchange, queue, subscription
from services.common.operations import Operated
from services.common.windows import signed_window
from services.common.rpc import rpc
from services.notify.service import InboxEntrypoints
from tests.support import signed


RPC_TIMEOUT = 10  # a service that died answers nothing: the test fails instead of waiting


class RebuiltNotify(InboxEntrypoints, Operated):
    """The notify service's inbox with the operators' RPCs (its SMS half left out)."""
    name = "notify"

    @rpc
    def ping(self):
        return "pong"


class Upstream:
    """A source's `ops_events` over a list of envelopes at positions 1, 2, ..."""
    history = []

    @rpc
    def ops_events(self, after=0, limit=100, event_type=None, until=None, challenge=None, form=None):
        end = len(self.history)
        stop = end if until is None else min(until, end)
        items = [dict(envelope if "signature" in envelope else signed(envelope), position=n)
                 for n, envelope in enumerate(self.history, 1) if after < n <= stop]
        items = items[:limit]
        answer = {"items": items, "next": items[-1]["position"] if items else stop, "end": end}
        if challenge is None:
            return answer
        return signed_window(self.name, answer, after, limit, event_type, until, challenge, form)  # as a service does


class UpstreamEnterprise(Upstream):
    name = "enterprise"
    names = {}  # enterprise_id -> name

    @rpc
    def get_enterprise(self, enterprise_id, actor_user_id=None):
        if enterprise_id not in self.names:
            raise ServiceError(e.ENTERPRISE_NOT_FOUND, "No such enterprise.")
        return {"enterprise_id": enterprise_id, "name": self.names[enterprise_id]}


class UpstreamAuthz(Upstream):
    name = "authz"


class UpstreamIdentity(Upstream):
    name = "identity"


def publish(amqp_uri, *envelopes, source="enterprise"):
    """To notify's queue alone: the live inbox gets them, the upstream's history need not have them."""
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        queue(subscription("notify", source))(channel).declare()
        producer = Producer(channel, exchange=exchange(source), serializer="json")
        for envelope in envelopes:
            producer.publish(signed(envelope), routing_key=envelope["event_type"], delivery_mode=2,
                             message_id=envelope["event_id"])


def inbox(notify, user_id):
    return {m["message_id"]: (m["kind"], m["read"]) for m in notify.list_messages(user_id)["items"]}

"""Each enterprise event the inbox consumes, published twice to the real broker: one message."""
import uuid

import pytest
from kombu import Connection, Producer
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import entrypoint_waiter

from contracts.enterprise import ADMIN_TRANSFERRED, ASSOCIATION_APPROVED, ASSOCIATION_REJECTED, ASSOCIATION_REQUESTED
from contracts.envelope import make_envelope
from contracts.subscriptions import exchange, queue, subscription
from tests.integration.enterprise_fakes import InboxOnlyNotify
from tests.support import signed

pytestmark = pytest.mark.integration


def uid():
    return str(uuid.uuid4())


def publish(amqp_uri, envelope, times):
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        queue(subscription("notify", "enterprise"))(channel).declare()
        producer = Producer(channel, exchange=exchange("enterprise"), serializer="json")
        for _ in range(times):
            producer.publish(signed(envelope), routing_key=envelope["event_type"], delivery_mode=2)


def cases():
    admin, user, other = uid(), uid(), uid()
    base = {"association_id": uid(), "enterprise_id": uid(), "user_id": user, "role": "user",
            "enterprise_name": "杭州重投递测试有限公司"}
    return [
        (ASSOCIATION_REQUESTED, dict(base, admin_user_id=admin, user_name="李四"), {admin: "association_requested"}),
        (ASSOCIATION_APPROVED, base, {user: "association_approved"}),
        (ASSOCIATION_REJECTED, dict(base, reason="资料不符"), {user: "association_rejected"}),
        (ADMIN_TRANSFERRED, {"enterprise_id": base["enterprise_id"], "from_user_id": admin, "to_user_id": other,
                             "enterprise_name": base["enterprise_name"]},
         {admin: "admin_transferred", other: "admin_transferred"}),
    ]


@pytest.mark.parametrize("et,payload,expected", cases(), ids=lambda v: getattr(v, "name", ""))
def test_redelivered_event_makes_one_message(fresh_var, container_factory, config, amqp_uri, et, payload, expected):
    container = container_factory(InboxOnlyNotify, config)
    container.start()
    env = make_envelope(et, aggregate_id=uid(), aggregate_version=3, occurred_at="2024-06-01T08:00:00+00:00",
                        payload=payload)
    handled = []

    def both_handled(worker_ctx, result, exc_info):
        handled.append(exc_info)
        return len(handled) == 2

    with entrypoint_waiter(container, "on_enterprise_event", callback=both_handled, timeout=15):
        publish(amqp_uri, env, times=2)
    assert handled == [None, None]
    with ServiceRpcProxy("notify", config) as notify:
        for user_id, kind in expected.items():
            items = notify.list_messages(user_id, False)["items"]
            assert [m["kind"] for m in items] == [kind]

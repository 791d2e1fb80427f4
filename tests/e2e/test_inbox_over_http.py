"""The inbox of the running notify service: each enterprise event it consumes, published twice to
its queue with kombu, makes one message, which its recipient reads over HTTP."""
import os
import time
import uuid

import pytest
from kombu import Connection, Producer

from contracts.enterprise import ADMIN_TRANSFERRED, ASSOCIATION_APPROVED, ASSOCIATION_REJECTED, ASSOCIATION_REQUESTED
from contracts.envelope import make_envelope
from contracts.subscriptions import exchange, queue, subscription
from tests.e2e.enterprise_people import messages, register, wait_for
from tests.support import signed

pytestmark = pytest.mark.e2e


def publish_twice(envelope):
    with Connection(os.environ["E2E_AMQP_URI"]) as conn:
        channel = conn.channel()
        producer = Producer(channel, exchange=exchange("enterprise"), serializer="json")
        for _ in range(2):
            producer.publish(signed(envelope), routing_key=envelope["event_type"], delivery_mode=2)


def queue_drained(timeout=15):
    sub = subscription("notify", "enterprise")
    deadline = time.monotonic() + timeout
    with Connection(os.environ["E2E_AMQP_URI"]) as conn:
        while time.monotonic() < deadline:
            _, ready, _ = queue(sub)(conn.channel()).queue_declare(passive=True)
            if ready == 0:
                return
            time.sleep(0.1)
    raise AssertionError(f"{sub.queue_name} still holds messages")


@pytest.fixture(scope="module")
def pair(api):
    return register(api), register(api)


def cases():
    return {
        "AssociationRequested": (ASSOCIATION_REQUESTED, lambda a, b, base: dict(
            base, user_id=b.user_id, admin_user_id=a.user_id, user_name=b.name), {"a": "association_requested"}),
        "AssociationApproved": (ASSOCIATION_APPROVED, lambda a, b, base: dict(base, user_id=a.user_id),
                                {"a": "association_approved"}),
        "AssociationRejected": (ASSOCIATION_REJECTED,
                                lambda a, b, base: dict(base, user_id=a.user_id, reason="资料不符"),
                                {"a": "association_rejected"}),
        "AdminTransferred": (ADMIN_TRANSFERRED, lambda a, b, base: {
            "enterprise_id": base["enterprise_id"], "from_user_id": a.user_id, "to_user_id": b.user_id,
            "enterprise_name": base["enterprise_name"]}, {"a": "admin_transferred", "b": "admin_transferred"}),
    }


@pytest.mark.parametrize("name", list(cases()))
def test_each_event_delivered_twice_makes_one_message(api, pair, name):
    et, make_payload, expected = cases()[name]
    a, b = pair
    people = {"a": a, "b": b}
    enterprise_id = str(uuid.uuid4())
    base = {"association_id": str(uuid.uuid4()), "enterprise_id": enterprise_id, "role": "user",
            "enterprise_name": "杭州重投递测试有限公司"}
    envelope = make_envelope(et, aggregate_id=str(uuid.uuid4()), aggregate_version=2,
                             occurred_at="2024-06-01T08:00:00+00:00", payload=make_payload(a, b, base))
    publish_twice(envelope)

    def mine(person):
        return [m for m in messages(api, person)["items"] if m["data"].get("enterprise_id") == enterprise_id]

    for key in expected:
        wait_for(lambda key=key: mine(people[key]))
    queue_drained()
    time.sleep(0.3)  # the second delivery's worker finishes after the queue empties
    for key, kind in expected.items():
        got = mine(people[key])
        assert [m["kind"] for m in got] == [kind], got
        assert got[0]["read"] is False and got[0]["created_at"] == "2024-06-01T08:00:00+00:00"

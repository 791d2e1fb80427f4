"""The audit service against the real RabbitMQ: records every event once, answers its admin only."""
import uuid

import eventlet
import pytest
from nameko.testing.services import entrypoint_hook

from contracts import asyncapi
from contracts.envelope import REGISTRY, make_envelope
from contracts.errors import ServiceError
from services.audit.service import AuditService
from services.common.relay import AmqpPublisher
from services.common.rpc import rpc

pytestmark = pytest.mark.integration
asyncapi.load_all_event_modules()

ENTERPRISE = str(uuid.uuid4())
ADMIN, MEMBER = str(uuid.uuid4()), str(uuid.uuid4())


class FakeEnterprise:
    """Stands in for the enterprise service's membership RPC (tested for real end to end)."""
    name = "enterprise"

    @rpc
    def membership(self, user_id, enterprise_id):
        if enterprise_id != ENTERPRISE:
            return None
        role = {ADMIN: "admin", MEMBER: "user"}.get(user_id)
        return {"association_id": "a", "role": role, "status": "approved"} if role else None


def approved(user_id, version, when="2026-11-01T08:00:00+00:00"):
    return make_envelope(REGISTRY[("enterprise", "AssociationApproved")], aggregate_id=str(uuid.uuid4()),
                         aggregate_version=version, occurred_at=when, actor_user_id=ADMIN,
                         payload={"association_id": "x", "enterprise_id": ENTERPRISE, "user_id": user_id,
                                  "role": "user"})


@pytest.fixture
def audit(runner_factory, config, fresh_var):
    runner = runner_factory(config, AuditService, FakeEnterprise)
    runner.start()
    return runner.service_map["audit"]


def wait_count(container, n, timeout=10):
    with eventlet.Timeout(timeout):
        while True:
            with entrypoint_hook(container, "enterprise_events") as query:
                items = query(ADMIN, ENTERPRISE, limit=500)["items"]
            if len(items) >= n:
                return items
            eventlet.sleep(0.05)


def test_events_are_recorded_once_and_listed_newest_first(audit, amqp_uri):
    publisher = AmqpPublisher(amqp_uri, "enterprise")
    first = approved(MEMBER, 1, "2026-11-01T08:00:00+00:00")
    second = approved(MEMBER, 2, "2026-11-02T08:00:00+00:00")
    for env in (first, second, first, second):  # redelivered
        publisher.publish(env)
    items = wait_count(audit, 2)
    eventlet.sleep(0.5)
    items = wait_count(audit, 2)
    assert [i["event_id"] for i in items] == [second["event_id"], first["event_id"]]
    assert items[0]["subject"] == MEMBER and items[0]["actor_user_id"] == ADMIN
    with entrypoint_hook(audit, "enterprise_events") as query:
        assert len(query(ADMIN, ENTERPRISE, since="2026-11-02T00:00:00+00:00")["items"]) == 1
        assert query(ADMIN, ENTERPRISE, event_type="AdminTransferred")["items"] == []
        assert len(query(ADMIN, ENTERPRISE, user_id=MEMBER, limit=1)["items"]) == 1


def test_only_the_administrator_reads_the_trail(audit):
    with entrypoint_hook(audit, "enterprise_events") as query:
        for actor in (MEMBER, str(uuid.uuid4())):
            with pytest.raises(ServiceError) as err:
                query(actor, ENTERPRISE)
            assert err.value.code == "FORBIDDEN"


@pytest.mark.parametrize("field,value", [("since", "yesterday"), ("until", "2026-11-01T00:00:00"), ("limit", 0)])
def test_bad_query_names_the_field(audit, field, value):
    with entrypoint_hook(audit, "enterprise_events") as query:
        with pytest.raises(ServiceError) as err:
            query(ADMIN, ENTERPRISE, **{field: value})
    assert err.value.code == "VALIDATION_ERROR" and field in err.value.details

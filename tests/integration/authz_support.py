"""Test-only parts for the authz tests (no tests here): a stand-in enterprise service publishing the
events of contracts/enterprise.py through the real relay, a stand-in identity for the gateway's
token check, a RabbitMQ vhost of the module's own, and helpers.

The vhost matters: the e2e platform fixture is session-scoped, so real `authz`, `enterprise` and
`identity` processes may be consuming the session vhost's queues while these tests run.
"""
import uuid

from eventsourcing.domain import Aggregate, event
from kombu import Connection, Producer

from contracts import enterprise as ent
from contracts.envelope import make_envelope
from contracts.subscriptions import exchange
from services.authz.service import AuthzService
from services.common.application import ServiceApplication
from services.common.dependency import EventSourced
from services.common.rpc import rpc
from tests.support import free_port, wait_for  # noqa: F401 (the authz tests import them from here)
from tests.tokens import IdentityStandIn
from tests.support import signed

NOW = "2024-05-01T08:00:00+00:00"


# -- a stand-in enterprise service: its events leave through the real relay -----------------------
class FakeEnterprise(Aggregate):
    @event("Registered")
    def __init__(self, admin_user_id):
        self.admin_user_id = admin_user_id

    @event("Approved")
    def approve(self, association_id, user_id, role):
        pass

    @event("Transferred")
    def transfer(self, from_user_id, to_user_id):
        self.admin_user_id = to_user_id

    @event("RoleCertified")
    def certify(self, user_id, via):
        """As the real one: after the administrator bound the legal-person card, or a handover."""

    @event("Removed")
    def remove(self, association_id, user_id, role):
        pass


class FakeEnterpriseApp(ServiceApplication):
    service_name = "enterprise"


def fake_enterprise_to_integration(de):
    eid = str(de.originator_id)
    common = dict(aggregate_id=eid, aggregate_version=de.originator_version, occurred_at=de.timestamp)
    if isinstance(de, FakeEnterprise.Registered):
        yield make_envelope(ent.ENTERPRISE_REGISTERED, payload={
            "enterprise_id": eid, "uscc": "91330000MA2XXXXX1X", "name": "宁波测试贸易有限公司",
            "certified": True, "admin_user_id": de.admin_user_id}, actor_user_id=de.admin_user_id, **common)
        yield make_envelope(ent.ASSOCIATION_APPROVED, payload={
            "association_id": f"assoc-{eid}-{de.admin_user_id}", "enterprise_id": eid,
            "user_id": de.admin_user_id, "role": "admin"}, **common)
    elif isinstance(de, FakeEnterprise.Approved):
        yield make_envelope(ent.ASSOCIATION_APPROVED, payload={
            "association_id": de.association_id, "enterprise_id": eid, "user_id": de.user_id,
            "role": de.role, "approved_at": NOW}, **common)  # a field added later must not hurt
    elif isinstance(de, FakeEnterprise.RoleCertified):
        yield make_envelope(ent.ROLE_CERTIFIED, payload={
            "enterprise_id": eid, "user_id": de.user_id, "association_id": f"assoc-{eid}-{de.user_id}",
            "via": de.via, "card_no": None}, **common)
    elif isinstance(de, FakeEnterprise.Transferred):
        yield make_envelope(ent.ADMIN_TRANSFERRED, payload={
            "enterprise_id": eid, "from_user_id": de.from_user_id, "to_user_id": de.to_user_id}, **common)
    elif isinstance(de, FakeEnterprise.Removed):
        yield make_envelope(ent.MEMBER_REMOVED, payload={
            "association_id": de.association_id, "enterprise_id": eid, "user_id": de.user_id,
            "role": de.role}, **common)


class FakeEnterpriseService:
    """Named `enterprise`: publishes on `enterprise.events` like the real one will."""
    name = "enterprise"
    app = EventSourced(FakeEnterpriseApp, fake_enterprise_to_integration, relay_idle_seconds=0.05)

    @rpc
    def register(self, admin_user_id):
        """Registered, and the administrator's role certified (they bound the legal-person card)."""
        e = FakeEnterprise(admin_user_id)
        e.certify(admin_user_id, "legal_person_card")
        self.app.save(e)
        return str(e.id)

    @rpc
    def approve(self, enterprise_id, user_id, role="user"):
        e = self.app.repository.get(uuid.UUID(enterprise_id))
        association_id = f"assoc-{uuid.uuid4().hex[:12]}"
        e.approve(association_id, user_id, role)
        self.app.save(e)
        return association_id

    @rpc
    def transfer(self, enterprise_id, to_user_id):
        e = self.app.repository.get(uuid.UUID(enterprise_id))
        e.transfer(e.admin_user_id, to_user_id)
        e.certify(to_user_id, "handover")  # a handover by a certified administrator certifies
        self.app.save(e)

    @rpc
    def remove(self, enterprise_id, association_id, user_id):
        e = self.app.repository.get(uuid.UUID(enterprise_id))
        e.remove(association_id, user_id, "user")
        self.app.save(e)


# -- a stand-in identity: the gateway checks tokens itself (tests/tokens.py signs them) -----------
class StubIdentityService(IdentityStandIn):
    pass


# -- helpers -------------------------------------------------------------------------------------
def app_of(container):
    return next(d for d in container.dependencies if isinstance(d, EventSourced)).app


def publish_enterprise_events(amqp_uri, envelopes):
    """Put envelopes on `enterprise.events` directly, in the order given (duplicates allowed)."""
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        ex = exchange(ent.SOURCE)
        ex(channel).declare()
        producer = Producer(channel, exchange=ex, serializer="json")
        for env in envelopes:
            producer.publish(signed(env), routing_key=env["event_type"], delivery_mode=2, message_id=env["event_id"])


def enterprise_story(enterprise_id, admin, member, association_id="assoc-m1"):
    """Envelopes of: registered by `admin`, whose role is certified (角色认证), `member` approved,
    admin handed to `member` (certified by the handover), and the registrant removed afterwards —
    versions 1..7 of one enterprise aggregate. [:4] is the enterprise with its two members, [4:6]
    the handover, [6] the removal."""
    def env(et, version, payload):
        return make_envelope(et, aggregate_id=enterprise_id, aggregate_version=version, occurred_at=NOW,
                             payload=payload)
    def certified(version, user_id, via):
        return env(ent.ROLE_CERTIFIED, version, {"enterprise_id": enterprise_id, "user_id": user_id,
                                                 "association_id": f"assoc-{user_id}", "via": via, "card_no": None})
    return [
        env(ent.ENTERPRISE_REGISTERED, 1, {"enterprise_id": enterprise_id, "uscc": "x", "name": "企业",
                                           "certified": False, "admin_user_id": admin}),
        certified(2, admin, "legal_person_card"),
        env(ent.ASSOCIATION_APPROVED, 3, {"association_id": "assoc-admin", "enterprise_id": enterprise_id,
                                          "user_id": admin, "role": "admin"}),
        env(ent.ASSOCIATION_APPROVED, 4, {"association_id": association_id, "enterprise_id": enterprise_id,
                                          "user_id": member, "role": "user"}),
        env(ent.ADMIN_TRANSFERRED, 5, {"enterprise_id": enterprise_id, "from_user_id": admin,
                                       "to_user_id": member}),
        certified(6, member, "handover"),
        env(ent.MEMBER_REMOVED, 7, {"association_id": "assoc-admin", "enterprise_id": enterprise_id,
                                    "user_id": admin, "role": "user"}),
    ]


__all__ = ["AuthzService", "FakeEnterpriseService", "StubIdentityService",
           "wait_for", "app_of", "publish_enterprise_events", "enterprise_story", "free_port"]

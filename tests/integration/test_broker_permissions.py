"""The broker's own authorisation against the real RabbitMQ: each role's user (deploy/broker.py,
from the table of deploy/broker_policy.py) may call what it is meant to and nothing else.

The users live in a vhost of this module's own and are named after it (users are global in
RabbitMQ; other test sessions run beside this one)."""
import uuid
from types import SimpleNamespace

import pytest
from amqp.exceptions import AccessRefused, PreconditionFailed
from kombu import Connection, Exchange, Queue
from nameko.amqp.publish import Publisher
from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from nameko.rpc import get_rpc_exchange
from nameko.standalone.rpc import ClusterRpcProxy as NamekoClusterRpcProxy
from nameko.testing.services import dummy, entrypoint_hook

from deploy import broker
from contracts import subscriptions
from contracts.subscriptions import SUBSCRIPTIONS, queue, subscription
from deploy.broker_policy import CALLS, EVENT_HANDLERS, GATEWAY, ROLES
from contracts.errors import ServiceError
from services.common.context import RequestContext
from services.common.erasure import ErasureFollower, confirm_to
from services.common.windows import signed_window, upstream_fetcher
from services.common.rpc import ClusterRpcProxy, RpcProxy, rpc
from services.identity.service import IdentityService
from tests.support import create_vhost, delete_vhost, vhost_uri

pytestmark = pytest.mark.integration

RPC = get_rpc_exchange({})
UNDECLARED_RPC = Exchange(RPC.name, type=RPC.type, durable=True, no_declare=True)


@pytest.fixture(scope="module")
def users():
    vhost = create_vhost("eport-broker", exchanges=False)  # setup declares them
    if vhost is None:
        pytest.skip("needs rabbitmqctl to make users")
    try:
        yield broker.setup(vhost_uri(vhost), namespace=vhost)
    finally:
        try:
            broker.remove(namespace=vhost)
        finally:
            delete_vhost(vhost)


def config_of(uri):
    return {"AMQP_URI": uri, "serializer": "json"}


class IdentityStandIn:
    """What card asks identity, answered by a service connected as identity's broker user."""
    name = "identity"

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def start_card_session(self, user_id, card_no):
        return {"user_id": user_id, "card_no": card_no}

    @rpc
    def ops_status(self):  # what the `eport` tool asks
        return {"service": "identity"}

    @rpc
    def ops_events(self, after=0, limit=100, until=None, event_type=None, challenge=None):  # what a rebuild asks
        return signed_window("identity", {"items": [], "next": after, "end": after}, after, limit, event_type, until,
                             challenge)


class Caller:
    """A service of a given name that calls identity (its name picks its reply queue's name)."""
    identity = RpcProxy("identity")

    @dummy
    def start_card_session(self, user_id, card_no):
        return self.identity.start_card_session(user_id, card_no)

    @dummy
    def ping(self):
        return self.identity.ping()


def caller(name):
    return type(f"{name.title()}Caller", (Caller,), {"name": name})


@pytest.fixture
def identity(users, container_factory):
    container = container_factory(IdentityStandIn, config_of(users["identity"]))
    container.start()
    return container


def publish(uri, exchange, routing_key, payload=None):
    Publisher(uri, serializer="json").publish(payload or {}, exchange=exchange, routing_key=routing_key)


def test_the_card_service_may_start_a_card_session_and_gets_the_reply(users, identity, container_factory):
    card = container_factory(caller("card"), config_of(users["card"]))
    card.start()
    with entrypoint_hook(card, "start_card_session") as start:
        assert start("u-1", "8800000012345") == {"user_id": "u-1", "card_no": "8800000012345"}


def test_the_gateway_may_not_call_start_card_session_but_may_ping(users, identity, container_factory):
    assert "start_card_session" not in CALLS[GATEWAY]["identity"]
    gateway = container_factory(caller("gateway"), config_of(users["gateway"]))
    gateway.start()
    with entrypoint_hook(gateway, "ping") as ping:
        assert ping() == "pong"  # its requests and their replies work …
    with entrypoint_hook(gateway, "start_card_session") as start:
        with pytest.raises(AccessRefused):  # … but not this one
            start("u-1", "8800000012345")


def test_only_auditors_read_the_whole_audit_log_and_only_operators_record_operations(users):
    for role in ("gateway", "operator", "identity"):
        with pytest.raises(AccessRefused):
            publish(users[role], RPC, "audit.events")
    publish(users["auditor"], RPC, "audit.events")
    publish(users["gateway"], RPC, "audit.enterprise_events")
    publish(users["operator"], RPC, "audit.record_operation")
    for role in ("auditor", "gateway", "audit", "enterprise"):
        with pytest.raises(AccessRefused):
            publish(users[role], RPC, "audit.record_operation")


def test_an_auditor_may_not_replay_rebuild_or_touch_dead_letters(users):
    from deploy.eport.broker import replay_producer
    sub = SUBSCRIPTIONS[0]
    with Connection(users[sub.source]) as conn, conn.channel() as channel:
        queue(sub)(channel).declare()  # as its publisher does
    with Connection(users["operator"]) as conn, conn.channel() as channel:
        replay_producer(channel, sub.queue_name)  # the operator may
    with Connection(users["auditor"]) as conn, conn.channel() as channel:
        with pytest.raises(AccessRefused):
            replay_producer(channel, sub.queue_name)
    for call in (f"{sub.source}.ops_rebuild", f"{sub.source}.ops_events", "audit.ops_status"):
        with pytest.raises(AccessRefused):
            publish(users["auditor"], RPC, call)
    from services.common.deadletters import dead_letter_queue
    with Connection(users[sub.consumer]) as conn, conn.channel() as channel:
        dead_letter_queue(sub.queue_name)(channel).declare()  # as its consumer does
    with Connection(users["auditor"]) as conn, conn.channel() as channel:
        with pytest.raises(AccessRefused):  # neither lists, takes back nor drops a dead letter
            channel.basic_get(f"{sub.queue_name}.dead-letters")


def test_a_request_cannot_claim_another_broker_user(users):
    """The broker user audit records as who acted is the request's AMQP user_id, which RabbitMQ
    checks against the connection's user."""
    with pytest.raises(PreconditionFailed):
        Publisher(users["operator"], serializer="json").publish(
            {}, exchange=RPC, routing_key="audit.record_operation", user_id="eport-somebody-else")


def test_only_the_owner_publishes_to_its_events_exchange(users):
    identity_events = Exchange("identity.events", type="topic", durable=True)
    enterprise_events = Exchange("enterprise.events", type="topic", durable=True)
    for owner, exchange in (("identity", identity_events), ("enterprise", enterprise_events)):
        with Connection(users[owner]) as conn:  # as its relay does
            exchange(conn.default_channel).declare()
    with pytest.raises(AccessRefused):
        publish(users["gateway"], identity_events, "SessionRevoked")
    with pytest.raises(AccessRefused):  # a forged AdminTransferred would make its author an admin in authz
        publish(users["identity"], enterprise_events, "AdminTransferred")
    with pytest.raises(AccessRefused):
        publish(users["authz"], enterprise_events, "AdminTransferred")
    publish(users["identity"], identity_events, "SessionRevoked")
    publish(users["enterprise"], enterprise_events, "AdminTransferred")


def test_the_gateway_may_neither_take_nor_copy_another_services_requests(users, identity):
    with Connection(users["gateway"]) as conn:
        with pytest.raises(AccessRefused):  # consuming identity's RPC queue
            conn.default_channel.basic_get(queue="rpc-identity")
    with Connection(users["gateway"]) as conn:
        # a reply queue of its own, bound to identity's requests (with everyone's passwords); the
        # exchange not declared (no one may but the admin): the topic permission refuses the binding
        sniffer = Queue(f"rpc.reply-gateway-{uuid.uuid4()}", exchange=UNDECLARED_RPC, routing_key="identity.*",
                        auto_delete=True)
        with pytest.raises(AccessRefused):
            sniffer(conn.default_channel).declare()


def test_a_service_may_not_declare_another_services_queues(users):
    with Connection(users["notify"]) as conn:
        with pytest.raises(AccessRefused):
            Queue("rpc-identity", exchange=RPC, routing_key="identity.*", durable=True)(conn.default_channel).declare()


def test_a_consumer_puts_a_failed_message_back_through_its_queues_exchange_and_no_one_else_may(users):
    from services.common.deadletters import Parker, retry_exchange

    sub = subscription("audit", "identity")
    with Connection(users["identity"]) as conn:  # as identity's relay declares its subscribers' queues
        queue(sub)(conn.default_channel).declare()
    Parker(users["audit"], sub.queue_name).declare()  # the retry exchange, bound to the queue
    publish(users["audit"], retry_exchange(sub.queue_name), "UserRegistered")
    with Connection(users["audit"]) as conn:
        assert conn.default_channel.basic_get(queue=sub.queue_name, no_ack=True) is not None
    with pytest.raises(AccessRefused):
        publish(users["gateway"], retry_exchange(sub.queue_name), "UserRegistered")


def consumed_pairs():
    """(consumer, source) of every in-platform consumer, subscriptions and nameko handlers alike."""
    pairs = {(sub.consumer, sub.source) for sub in SUBSCRIPTIONS if sub.consumer in ROLES}  # not the tests' own
    pairs |= {(role, source) for role, handlers in EVENT_HANDLERS.items() for source, _ in handlers}
    return sorted(pairs)


def test_setup_declares_every_consumed_exchange_and_no_consumer_may_delete_one(users):
    """exchange.delete needs configure: a consumer that could delete `identity.events` would make
    the relay's confirmed publishes unroutable, lost for every subscriber."""
    pairs = consumed_pairs()
    assert ("notify", "enterprise") in pairs and ("gateway", "identity") in pairs
    for consumer, source in [*pairs, ("notify", "identity")]:
        if consumer == source:  # identity follows its own UserErased, sso its BackchannelLogoutDue: the owner
            continue  # configures its exchange
        with Connection(users[consumer]) as conn:
            channel = conn.channel()
            channel.exchange_declare(f"{source}.events", "topic", passive=True)  # setup declared it
            with pytest.raises(AccessRefused):
                channel.exchange_delete(f"{source}.events")
    for source in {source for _, source in pairs}:  # still there; its owner declares it and publishes, as its relay
        with Connection(users[source]) as conn:
            subscriptions.exchange(source)(conn.default_channel).declare()
        publish(users[source], subscriptions.exchange(source), "Noted")


def test_a_consumer_binds_its_queue_without_declaring_the_exchange(users):
    sub = subscription("notify", "enterprise")
    with Connection(users["notify"]) as conn:
        with pytest.raises(AccessRefused):  # configure on enterprise.events: refused
            subscriptions.exchange("enterprise")(conn.channel()).declare()
        consumer_queue = queue(sub)
        for b in consumer_queue.bindings:
            b.exchange.no_declare = True
        consumer_queue(conn.channel()).declare()  # its own queue, bound to its routing keys
    publish(users["enterprise"], subscriptions.exchange("enterprise"), sub.event_types[0], {"n": 1})
    with Connection(users["notify"]) as conn:
        assert conn.default_channel.basic_get(queue=sub.queue_name, no_ack=True) is not None



def test_setup_declares_the_rpc_exchange_and_no_role_may_delete_it(users, identity, container_factory):
    """exchange.delete needs configure: any one role that could delete `nameko-rpc` would break
    every call of the platform. `identity` runs (its RPC queue bound) before anyone tries."""
    for role in ROLES:
        with Connection(users[role]) as conn:
            channel = conn.channel()
            channel.exchange_declare(RPC.name, "topic", passive=True)  # setup declared it
            with pytest.raises(AccessRefused):
                channel.exchange_delete(RPC.name)
        with Connection(users[role]) as conn:
            with pytest.raises(AccessRefused):  # nor declare it: configure
                RPC(conn.channel()).declare()
    card = container_factory(caller("card"), config_of(users["card"]))
    card.start()  # its reply queue bound without declaring the exchange
    with entrypoint_hook(card, "start_card_session") as start:  # the exchange is still there
        assert start("u-1", "8800000012345") == {"user_id": "u-1", "card_no": "8800000012345"}


def test_the_operators_standalone_proxy_calls_without_declaring_the_rpc_exchange(users, identity):
    with pytest.raises(AccessRefused):  # nameko's own declares it
        with NamekoClusterRpcProxy(config_of(users["operator"]), timeout=10):
            pass
    with ClusterRpcProxy(config_of(users["operator"]), timeout=10) as cluster:  # what `eport` uses
        assert cluster.identity.ops_status() == {"service": "identity"}


def test_a_rebuild_asks_its_upstream_as_its_own_user(users, identity):
    fetch = upstream_fetcher(config_of(users["audit"]), "audit", timeout=10)
    try:
        assert fetch("identity", 5, 100) == {"items": [], "next": 5, "end": 5}
    finally:
        fetch.close()


class _Confirmations(DependencyProvider):
    """identity's application, recording each confirmation it is given."""
    recorded = []

    def get_dependency(self, worker_ctx):
        return SimpleNamespace(confirm_erasure=lambda erasure_id, service: self.recorded.append(service) or True)


class IdentityConfirming:
    """identity's own confirm_erasure entrypoint (services/identity/service.py), as identity's user."""
    name = "identity"
    app = _Confirmations()
    context = RequestContext()  # what EventSourced is to the service: the worker's context current
    erasure = ErasureFollower("identity")
    confirm_erasure = IdentityService.confirm_erasure


class ErasureCaller:
    name = "card"
    identity = RpcProxy("identity")
    config = Config()

    @dummy
    def confirm(self, erasure_id, service):  # as services/common/erasure.py's follower confirms
        return confirm_to(self.identity, erasure_id, service, self.config)

    @dummy
    def confirm_without_user(self, erasure_id, service):
        return self.identity.confirm_erasure(erasure_id, service)


def test_confirm_erasure_rule_a_service_confirms_only_its_own_erasure(users, container_factory):
    """A service's broker user may call identity.confirm_erasure, but only for itself: card naming
    audit (or sending no user_id) would complete an erasure whose audit copies were never erased."""
    container_factory(IdentityConfirming, config_of(users["identity"])).start()
    card = container_factory(ErasureCaller, config_of(users["card"]))
    card.start()
    _Confirmations.recorded.clear()
    with entrypoint_hook(card, "confirm") as confirm:
        assert confirm("erasure-1", "card") is True
        with pytest.raises(ServiceError) as refused:
            confirm("erasure-1", "audit")
        assert refused.value.code == "FORBIDDEN"
    with entrypoint_hook(card, "confirm_without_user") as confirm:
        with pytest.raises(ServiceError):
            confirm("erasure-1", "card")
    assert _Confirmations.recorded == ["card"]

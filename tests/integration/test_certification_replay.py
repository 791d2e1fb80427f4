"""Enterprises stored before role certification (角色认证) existed: their administrators read as
uncertified, unless they had bound their legal-person card, which a replay of the card service's
history tells the running enterprise service (its `enterprise.card-events` queue, real RabbitMQ)."""
import eventlet
import pytest
from kombu import Connection, Producer
from nameko.standalone.rpc import ServiceRpcProxy

from contracts.subscriptions import exchange
from services.common.dependency import EventSourced
from services.enterprise.service import EnterpriseService
from tests.factories import new_uscc
from tests.integration.enterprise_fakes import FakeIdentity
from contracts.subscriptions import subscription
from services.common.event_keys import signer
from tests.support import dead_letters_of, replay_into, signed, wait_for
from tests.enterprise_support import card_bound_history

pytestmark = pytest.mark.integration

QUEUE = subscription("enterprise", "card").queue_name
MANUAL = ("宁波旧数据贸易有限公司", "浙江省宁波市", "货物进出口")


def publish_card_events(amqp_uri, envelopes):
    """As a replay of the card service's history (`eport replay card …`) puts it on the queue."""
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        ex = exchange("card")
        channel = conn.channel()
        ex(channel).declare()
        producer = Producer(channel, exchange=ex, serializer="json")
        for env in envelopes:
            producer.publish(signed(env), routing_key=env["event_type"], delivery_mode=2, message_id=env["event_id"])


def test_a_replayed_legal_person_binding_certifies_the_admin_it_was_bound_by(fresh_var, runner_factory, config):
    runner = runner_factory(config, EnterpriseService, FakeIdentity)
    runner.start()
    with ServiceRpcProxy("enterprise", config) as enterprise:
        admin, other_admin = FakeIdentity.add("王管理"), FakeIdentity.add("李管理")
        uscc, other_uscc = new_uscc(), new_uscc()
        ours = enterprise.associate(admin, uscc, "admin", *MANUAL)
        theirs = enterprise.associate(other_admin, other_uscc, "admin", *MANUAL)
        assert enterprise.get_enterprise(ours["enterprise_id"])["admin_role_certified"] is False
        history = [card_bound_history(uscc, admin, ours["enterprise_id"], ours["association_id"]),
                   card_bound_history(other_uscc, other_admin, theirs["enterprise_id"], theirs["association_id"],
                                      card_type="operator")]
        publish_card_events(config["AMQP_URI"], history * 2)  # a replay, and the replay again
        with eventlet.Timeout(15):
            while not enterprise.get_enterprise(ours["enterprise_id"])["admin_role_certified"]:
                eventlet.sleep(0.05)
        eventlet.sleep(0.5)
        assert enterprise.get_enterprise(theirs["enterprise_id"])["admin_role_certified"] is False  # operator card
        app = next(d for d in runner.service_map["enterprise"].dependencies if isinstance(d, EventSourced)).app
        assert all(app.is_processed("enterprise", env["event_id"]) for env in history)
        certified = [n for n in app.recorder.select_notifications(start=1, limit=1000)
                     if n.topic.endswith("Enterprise.RoleCertified")]
        assert len(certified) == 1


def test_a_forged_card_binding_replayed_into_enterprise_certifies_nobody(fresh_var, runner_factory, config):
    """CardBound of a legal-person card that the card service never bound, put on enterprise's queue
    through `eport.replay` (what an operator's broker user may do): unsigned, signed by another
    service's key, or a genuine signature over another user: each parked, the squatter uncertified."""
    runner = runner_factory(config, EnterpriseService, FakeIdentity)
    runner.start()
    with ServiceRpcProxy("enterprise", config) as enterprise:
        squatter, uscc = FakeIdentity.add("赵冒充"), new_uscc()
        theirs = enterprise.associate(squatter, uscc, "admin", *MANUAL)
        forged = card_bound_history(uscc, squatter, theirs["enterprise_id"], theirs["association_id"])
        by_enterprise = {**signer("enterprise").sign(dict(forged, source="enterprise")), "source": "card"}
        someone_else = signed(card_bound_history(uscc, FakeIdentity.add("钱某"), theirs["enterprise_id"],
                                                 theirs["association_id"]))
        altered = {**someone_else, "payload": {**someone_else["payload"], "user_id": squatter}}
        forgeries = [forged, by_enterprise, altered]
        replay_into(config["AMQP_URI"], QUEUE, forgeries)
        app = next(d for d in runner.service_map["enterprise"].dependencies if isinstance(d, EventSourced)).app
        wait_for(lambda: len(dead_letters_of(config["AMQP_URI"], QUEUE)) >= 3
                 or all(app.is_processed("enterprise", env["event_id"]) for env in forgeries), timeout=15)
        assert enterprise.get_enterprise(theirs["enterprise_id"])["admin_role_certified"] is False
        assert not any(app.is_processed("enterprise", env["event_id"]) for env in forgeries)
        assert not [n for n in app.recorder.select_notifications(start=1, limit=1000)
                    if n.topic.endswith("Enterprise.RoleCertified")]

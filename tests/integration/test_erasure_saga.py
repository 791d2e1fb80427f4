"""The erasure saga against the real RabbitMQ and SQLite (services/identity/erasures.py,
services/common/erasure.py): every service of the platform runs in this process, on a vhost of the
module's own; identity records the request, publishes UserErased through its notification log,
each service destroys the person's keys, purges its copies and confirms; identity marks it done."""
import json
import uuid

import eventlet
import pytest
from kombu import Connection, Producer, Queue
from nameko.standalone.rpc import ClusterRpcProxy

from contracts import identity as idn
from contracts.envelope import make_envelope
from contracts.subscriptions import subscription
from services.audit.service import AuditService
from services.authz.service import AuthzService
from services.card.service import CardService
from services.common.deadletters import dead_letter_queue, dead_letter_queue_name
from services.common.bootstrap import person_keys
from services.common.deployment import BACKENDS
from services.common.event_keys import signer
from services.enterprise.service import EnterpriseService
from services.identity.service import IdentityService
from services.notify.service import NotifyService
from services.sso.service import SsoService
from tests import sms
from tests.integration.identity_steps import PASSWORD, app_of, new_code, register
from tests.enterprise_support import MANUAL
from tests.eport_cli import eport, json_lines
from tests.factories import new_uscc
from tests.support import Clock, dead_letters_of, raised, replay_into, signed

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CLASSES = {"notify": NotifyService, "identity": IdentityService, "enterprise": EnterpriseService,
           "card": CardService, "authz": AuthzService, "audit": AuditService, "sso": SsoService}
EVERY = sorted(BACKENDS)


@pytest.fixture
def platform(container_factory, module_config, monkeypatch):
    """Every service in this process, on the module's vhost (tests/integration/conftest.py)."""
    monkeypatch.setenv("EPORT_SERVICES", ",".join(EVERY))
    containers = {name: container_factory(cls, module_config) for name, cls in CLASSES.items()}
    for container in containers.values():
        container.start()
    app_of(containers["identity"]).clock = Clock()  # moved past the SMS codes' resend pause
    return containers


@pytest.fixture
def rpc(platform, module_config):
    with ClusterRpcProxy(module_config, timeout=20) as proxy:
        yield proxy


def personal_code(rpc, user_id, mobile):
    before = len([m for m in sms.messages(mobile) if m["purpose"] == "personal_data"])
    rpc.identity.request_sms_code(mobile, "personal_data", None, user_id)
    for _ in range(500):
        sent = [m for m in sms.messages(mobile) if m["purpose"] == "personal_data"]
        if len(sent) > before:
            return sent[-1]["code"]
        eventlet.sleep(0.02)
    raise AssertionError("no personal_data SMS")


def erasure_row(rpc, erasure_id):
    return next(r for r in rpc.identity.ops_erasures() if r["erasure_id"] == erasure_id)


def wait_done(rpc, erasure_id, timeout=30):
    with eventlet.Timeout(timeout, AssertionError(f"not done: {erasure_row(rpc, erasure_id)}")):
        while erasure_row(rpc, erasure_id)["status"] != "done":
            eventlet.sleep(0.1)
    return erasure_row(rpc, erasure_id)


def test_every_service_confirms_and_the_person_is_gone(platform, rpc, fresh_var):
    identity = rpc.identity
    user_id, mobile, id_number = register(identity)
    neighbour, _, _ = register(identity)
    token = identity.login_password(mobile, PASSWORD)["access_token"]
    answer = identity.request_erasure(user_id, personal_code(rpc, user_id, mobile))
    assert answer["status"] == "pending"
    assert identity.request_erasure(user_id, "123456") == answer  # asked again: the same erasure
    row = wait_done(rpc, answer["erasure_id"])
    assert row["services_confirmed"] == EVERY and row["user_id"] == user_id
    assert raised(identity.authenticate, token).code == "UNAUTHENTICATED"
    for account in (mobile, id_number):
        assert raised(identity.login_password, account, PASSWORD).code == "INVALID_CREDENTIALS"
    # every service's key store holds the person's tombstone, and no key
    for service in EVERY:
        assert (fresh_var / "keys" / service / f"{user_id}.erased").exists(), service
        assert not (fresh_var / "keys" / service / f"{user_id}.key").exists(), service
    assert sms.messages(mobile) == []  # the SMS outbox names the mobile no more
    # the audit trail: ids, types and times; the person's name reads [已删除]; the erasure is an entry
    trail = rpc.audit.events(user_id=user_id, limit=100)
    kinds = {e["event_type"]: e for e in trail["items"] if e["source"] == "identity"}
    assert kinds["UserRegistered"]["payload"]["name"] == "[已删除]"
    assert kinds["UserRegistered"]["payload"]["mobile_masked"] == "[已删除]"
    assert kinds["ErasureCompleted"]["payload"]["services"] == ",".join(EVERY)
    assert "UserErased" in kinds
    assert identity.get_user(neighbour)["name"] == "张三"  # the neighbour is untouched
    # the ID number and the mobile register again
    app_of(platform["identity"]).clock.advance(61)
    again = identity.register("李四", None, id_number, mobile, new_code(identity, mobile, "register"))
    assert again["user_id"] != user_id


def test_a_service_down_midway_confirms_once_it_is_back(platform, rpc, container_factory, module_config):
    identity = rpc.identity
    user_id, mobile, _ = register(identity)
    platform["card"].kill()  # down before it could confirm: the event waits in its durable queue
    erasure_id = identity.request_erasure(user_id, personal_code(rpc, user_id, mobile))["erasure_id"]
    with eventlet.Timeout(20):
        while len(erasure_row(rpc, erasure_id)["services_confirmed"]) < len(EVERY) - 1:
            eventlet.sleep(0.1)
    eventlet.sleep(0.5)
    row = erasure_row(rpc, erasure_id)
    assert row["status"] == "pending" and "card" not in row["services_confirmed"]
    container_factory(CardService, module_config).start()
    assert wait_done(rpc, erasure_id)["services_confirmed"] == EVERY


def test_an_operators_legal_hold_refuses_and_erases_nothing_until_lifted(platform, rpc, module_amqp_uri):
    identity = rpc.identity
    user_id, mobile, _ = register(identity)
    eport("legal-hold", "add", user_id, "--reason", "法院协查", amqp_uri=module_amqp_uri)
    error = raised(identity.request_erasure, user_id, personal_code(rpc, user_id, mobile))
    assert error.code == "LEGAL_HOLD"
    assert identity.login_password(mobile, PASSWORD)["user_id"] == user_id  # nothing erased
    [row] = [r for r in json_lines(eport("erasures", "list", "--json", amqp_uri=module_amqp_uri))
             if r["user_id"] == user_id]
    assert (row["status"], row["refusal"], row["completed_at"]) == ("refused", "LEGAL_HOLD", None)
    eport("legal-hold", "remove", user_id, "--reason", "协查结束", amqp_uri=module_amqp_uri)
    app_of(platform["identity"]).clock.advance(61)
    erasure_id = identity.request_erasure(user_id, personal_code(rpc, user_id, mobile))["erasure_id"]
    assert wait_done(rpc, erasure_id)["status"] == "done"
    acted = [e["payload"] for e in rpc.audit.events(event_type="OperatorActed", limit=100)["items"]]
    assert [(a["action"], a["target"]) for a in acted if a["target"] == user_id] == [
        ("legal-hold-remove", user_id), ("legal-hold-add", user_id)]
    listed = eport("erasures", "list", amqp_uri=module_amqp_uri).stdout
    assert f"{erasure_id}  user={user_id}  done" in listed and "refused (LEGAL_HOLD)" in listed


def test_an_administrator_with_members_hands_the_role_over_first(platform, rpc):
    identity = rpc.identity
    user_id, mobile, _ = register(identity)
    enterprise, uscc = app_of(platform["enterprise"]), new_uscc()  # they register one, certified, and approve a member
    admin = enterprise.associate(user_id, uscc, "admin", **MANUAL)
    enterprise.certify_card(user_id, admin["enterprise_id"], admin["association_id"], "8800000000001",
                            "legal_person", uscc)
    member, _, _ = register(identity)
    enterprise.approve(user_id, enterprise.associate(member, uscc, "user", user_name="李四")["association_id"])
    error = raised(identity.request_erasure, user_id, personal_code(rpc, user_id, mobile))
    assert error.code == "ADMIN_HAS_MEMBERS"
    assert identity.login_password(mobile, PASSWORD)["user_id"] == user_id  # nothing erased
    enterprise.transfer_admin(user_id, admin["enterprise_id"], member)  # the role handed over: erased now
    app_of(platform["identity"]).clock.advance(61)
    erasure_id = identity.request_erasure(user_id, personal_code(rpc, user_id, mobile))["erasure_id"]
    assert wait_done(rpc, erasure_id)["status"] == "done"


def cached(app, user_id):
    try:
        app.repository.cache.get(uuid.UUID(user_id))
    except KeyError:
        return False
    return True


def test_every_instance_forgets_what_it_cached_of_the_person(platform, rpc, container_factory, module_config):
    second = container_factory(IdentityService, module_config)  # a second instance of identity, beside the first
    second.start()
    apps = [app_of(platform["identity"]), app_of(second)]
    apps[1].clock = apps[0].clock
    identity = rpc.identity
    user_id, mobile, _ = register(identity)
    for app in apps:
        app._user(user_id)  # opened on each instance: its cache holds the account
    assert all(cached(app, user_id) for app in apps)
    erasure_id = identity.request_erasure(user_id, personal_code(rpc, user_id, mobile))["erasure_id"]
    wait_done(rpc, erasure_id)
    # one instance took UserErased from identity's durable queue; each heard it on a queue of its own
    with eventlet.Timeout(10, AssertionError("an instance still caches the erased person")):
        while any(cached(app, user_id) for app in apps):
            eventlet.sleep(0.05)


def parked(amqp_uri, queue_name):
    """The bodies waiting in a consumer queue's dead letters (read, then put back)."""
    with Connection(amqp_uri) as conn, conn.channel() as channel:
        found = []
        while (message := Queue(dead_letter_queue_name(queue_name), channel=channel, no_declare=True).get()):
            found.append(json.loads(message.body))
        return found


def test_the_dead_letters_naming_the_person_are_dropped_and_the_others_kept(platform, rpc, module_amqp_uri):
    identity = rpc.identity
    user_id, mobile, _ = register(identity)
    queue_name = subscription("notify", "identity").queue_name
    with Connection(module_amqp_uri) as conn:
        dead = dead_letter_queue(queue_name)(conn.channel())
        dead.declare()
        producer = Producer(conn.channel(), exchange=dead.exchange)
        for about in (user_id, str(uuid.uuid4())):  # a message naming them, and a neighbour's
            producer.publish(json.dumps({"event_type": "UserSuperseded", "payload": {"user_id": about}}),
                             content_type="application/json")
    erasure_id = identity.request_erasure(user_id, personal_code(rpc, user_id, mobile))["erasure_id"]
    wait_done(rpc, erasure_id)
    assert [m["payload"]["user_id"] == user_id for m in parked(module_amqp_uri, queue_name)] == [False]


def forged_erasures(user_id):
    """UserErased of `user_id` as an attacker with the operator's replay could make them: unsigned,
    signed by another source's key relabelled identity, and a genuine signature over another user."""
    def erased(who):
        return make_envelope(idn.USER_ERASED, aggregate_id=str(uuid.uuid4()), aggregate_version=9,
                             occurred_at="2026-12-07T08:00:00+00:00",
                             payload={"user_id": who, "erasure_id": str(uuid.uuid4())})
    relabelled = {**signer("card").sign(dict(erased(user_id), source="card")), "source": "identity"}
    altered = json.loads(json.dumps(signed(erased(str(uuid.uuid4())))))
    altered["payload"]["user_id"] = user_id
    return [erased(user_id), relabelled, altered]


def test_forged_user_erased_rule_parked_and_no_key_destroyed(platform, rpc, module_amqp_uri):
    """Forged UserErased put on every service's queue of identity's events: each parked as origin not
    proven; no service destroys the person's keys, and the account keeps working."""
    identity = rpc.identity
    user_id, mobile, _ = register(identity)
    keys = {s: person_keys(s).key_for(user_id) for s in EVERY}  # each service holds one (made if not yet)
    queues = [subscription(s, "identity").queue_name for s in EVERY]
    forged = {name: forged_erasures(user_id) for name in queues}
    for name in queues:
        replay_into(module_amqp_uri, name, forged[name])

    def parked(name):  # the forgeries' own reasons: earlier tests of the module may have parked others
        ids = {env["event_id"] for env in forged[name]}
        return [reason for event_id, reason in dead_letters_of(module_amqp_uri, name) if event_id in ids]
    with eventlet.Timeout(20, AssertionError("the forgeries were not all parked")):
        while sum(len(parked(name)) for name in queues) < 3 * len(queues):
            eventlet.sleep(0.2)
    for name in queues:
        assert all((reason or "").startswith("origin not proven") for reason in parked(name)), parked(name)
    for service in EVERY:
        person_keys(service).forget(user_id)  # read from the store again, not this process's cache
        assert person_keys(service).find(user_id) == keys[service], service
        assert not person_keys(service).erased(user_id), service
    assert identity.login_password(mobile, PASSWORD)["access_token"]
    assert identity.get_user(user_id)["name"] == "张三"

"""The broker table (deploy/broker_policy.py) is the platform's real call graph: every RPC call
in the code is in it (else the broker refuses it), and every call in it is an RPC entrypoint of
its callee. Its regexes match what nameko names, and nothing near it."""
import importlib
import inspect
import re
from pathlib import Path

import pytest
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from nameko.rpc import Rpc

from deploy.broker_policy import AUDITOR, CALLS, GATEWAY, OPERATOR, ROLES, SERVICES, TOOLS, consumed_event_sources, \
    exchange_definitions, rpc_routing_keys, topic_permissions, vhost_permissions
from deploy.launch import SERVICES as LAUNCHED

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
CALLEES = "|".join(SERVICES)
SOURCES = {GATEWAY: ["gateway"], OPERATOR: ["deploy/eport"], AUDITOR: ["deploy/eport/audit.py"],
           **{s: [f"services/{s}"] for s in SERVICES}}
UUID = "3f2b1c4e-9a8d-4e7f-b6a5-0c1d2e3f4a5b"


def calls_in_code(role):
    found = set()
    for place in SOURCES[role]:
        path = ROOT / place
        for file in [path] if path.is_file() else path.rglob("*.py"):
            text = file.read_text(encoding="utf-8")
            found |= set(re.findall(rf"\b(?:self|gateway|rpc)\.({CALLEES})(?:_if_deployed)?\.(\w+)", text))
            found |= set(re.findall(rf'optional_rpc\(\w+, "({CALLEES})", "(\w+)"', text))
    return found


def rpc_methods(service):
    module, cls = LAUNCHED[service].split(":")
    service_cls = getattr(importlib.import_module(module), cls)
    return {name for name, fn in inspect.getmembers(service_cls, callable)
            if any(isinstance(ext, Rpc) for ext in getattr(fn, ENTRYPOINT_EXTENSIONS_ATTR, ()))}


@pytest.mark.parametrize("role", [GATEWAY, OPERATOR, AUDITOR, *SERVICES])
def test_every_call_in_the_code_is_in_the_table(role):
    table = {(callee, m) for callee, methods in CALLS.get(role, {}).items() for m in methods}
    assert calls_in_code(role) - table == set()


def test_every_call_in_the_table_is_an_rpc_entrypoint_of_its_callee():
    for role, callees in CALLS.items():
        for callee, methods in callees.items():
            assert set(methods) <= rpc_methods(callee), (role, callee, set(methods) - rpc_methods(callee))


def test_the_gateway_pings_every_service_and_calls_no_internal_method():
    for service in SERVICES:
        assert "ping" in CALLS[GATEWAY][service]
    allowed = re.compile(rpc_routing_keys(GATEWAY))
    for internal in ("identity.start_card_session", "identity.holder_matches", "identity.authenticate",
                     "audit.events", "notify.send_sms", "enterprise.membership", "authz.check"):
        assert not allowed.search(internal), internal
    assert allowed.search("identity.login_password") and allowed.search(UUID)
    assert not allowed.search("identity.login_password.x") and not allowed.search(f"x{UUID}")


def test_the_regexes_take_the_names_nameko_makes_and_no_others():
    configure, write, read = (re.compile(rx) for rx in vhost_permissions(GATEWAY))
    for name in (f"rpc.reply-gateway-{UUID}", "evt-identity-SessionRevoked--gateway.on_session_revoked-" + "ab" * 16):
        assert configure.search(name) and write.search(name) and read.search(name), name
    assert write.search("nameko-rpc") and read.search("nameko-rpc") and not configure.search("nameko-rpc")
    for name in (f"rpc.reply-card-{UUID}", "rpc-identity", "identity.events", "audit.identity-events",
                 "evt-identity-SessionRevoked--card.on_session_revoked", f"rpc.reply-gateway-{UUID}x"):
        assert not write.search(name), name
    assert read.search("identity.events") and not read.search("enterprise.events")
    card_configure = re.compile(vhost_permissions("card")[0])
    assert card_configure.search("card.enterprise-events") and not card_configure.search("authz.enterprise-events")


def test_only_the_owner_writes_its_events_exchange():
    for role in ROLES:
        write = re.compile(vhost_permissions(role)[1])
        for service in SERVICES:
            assert bool(write.search(f"{service}.events")) == (service == role), (role, service)
        assert all(w == "^$" for exchange, w, r in topic_permissions(role)
                   if exchange.endswith(".events") and exchange != f"{role}.events")


def test_only_the_owner_configures_its_events_exchange_and_consumers_read_the_ones_they_bind_to():
    # configure is what exchange.delete needs: a consumer may not delete the exchange it consumes
    for role in ROLES:
        configure = re.compile(vhost_permissions(role)[0])
        for service in SERVICES:
            assert bool(configure.search(f"{service}.events")) == (service == role), (role, service)
    assert re.search(vhost_permissions("notify")[2], "enterprise.events")
    assert re.search(vhost_permissions(GATEWAY)[2], "identity.events")
    assert consumed_event_sources() == ["authz", "card", "enterprise", "identity", "sso"]
    declared = {ex["name"]: ex for ex in exchange_definitions("v")}
    assert set(declared) == {"nameko-rpc", *(f"{s}.events" for s in consumed_event_sources())}
    assert declared["identity.events"] == {"name": "identity.events", "vhost": "v", "type": "topic", "durable": True,
                                           "auto_delete": False, "internal": False, "arguments": {}}


def test_no_role_configures_the_rpc_exchange_and_each_its_own_rpc_queues():
    # configure is what exchange.delete needs: any one role could break every call of the platform
    for role in ROLES:
        configure, write, read = (re.compile(rx) for rx in vhost_permissions(role))
        assert not configure.search("nameko-rpc"), role
        assert write.search("nameko-rpc") and read.search("nameko-rpc"), role  # requests, replies, queue.bind
        owner = "standalone_rpc_proxy" if role in TOOLS else role
        assert configure.search(f"rpc.reply-{owner}-{UUID}"), role
        assert bool(configure.search(f"rpc-{role}")) == (role in SERVICES), role
    for other in ("rpc-identity", f"rpc.reply-identity-{UUID}"):
        assert not re.search(vhost_permissions("notify")[0], other)
    rpc = {ex["name"]: ex for ex in exchange_definitions("v")}["nameko-rpc"]
    assert rpc == {"name": "nameko-rpc", "vhost": "v", "type": "topic", "durable": True, "auto_delete": False,
                   "internal": False, "arguments": {}}  # as nameko declares it: get_rpc_exchange


def test_the_operator_replays_into_subscriber_queues_only_through_its_own_exchange():
    configure, write, read = (re.compile(rx) for rx in vhost_permissions(OPERATOR))
    for name in ("eport.replay", "audit.identity-events.dead-letters"):
        assert configure.search(name) and write.search(name) and read.search(name), name
    for target in ("crm.identity-events", "audit.identity-events", "acl-cache"):
        assert write.search(target), target  # queue.bind needs write on the queue
    for platform in ("rpc-identity", f"rpc.reply-gateway-{UUID}", "identity.events", "amq.default", "",
                     "amq.topic"):
        assert not write.search(platform), platform
    assert not read.search("audit.identity-events") and not configure.search("crm.identity-events")
    assert not write.search("rpc.reply-x") and not read.search("identity.events")


def test_a_consumer_may_park_in_its_own_dead_letters_only():
    configure, write, read = (re.compile(rx) for rx in vhost_permissions("audit"))
    assert all(p.search("audit.identity-events.dead-letters") for p in (configure, write, read))
    assert not write.search("notify.enterprise-events.dead-letters")

"""The authz service against real RabbitMQ and SQLite: learning from enterprise events published by
a stand-in enterprise service through the real relay, grants leaving on `authz.events`, checks
served from the projection, and its rebuild after a restart."""
import time
import uuid

import eventlet
import pytest
from kombu import Connection, Queue, binding
from nameko.testing.services import entrypoint_hook

from contracts.subscriptions import exchange
from services.authz.application import AuthzApplication
from services.authz.catalogue import catalogue

from .authz_support import (AuthzService, FakeEnterpriseService, app_of,
                                 enterprise_story, publish_enterprise_events, wait_for)

pytestmark = pytest.mark.integration

ADMIN, MEMBER = "u-admin", "u-member"


class AuthzEvents:
    """A test queue bound to every event on authz.events."""

    def __init__(self, amqp_uri):
        self.conn = Connection(amqp_uri)
        self.queue = Queue(f"test-authz-{uuid.uuid4().hex[:8]}", exclusive=True,
                           bindings=[binding(exchange("authz"), routing_key="#")])
        self.queue(self.conn.channel()).declare()
        self.received = []

    def drain(self, until_count, event_type=None, timeout=10):
        def on_message(body, message):
            self.received.append(body)
            message.ack()

        def wanted():
            return [m for m in self.received if event_type in (None, m["event_type"])]
        with self.conn.Consumer(self.queue, callbacks=[on_message], accept=["json"]):
            wait_for(lambda: self._pump() or len(wanted()) >= until_count, timeout,
                     f"{until_count} authz events {event_type or ''}")
        return wanted()

    def _pump(self):
        try:
            self.conn.drain_events(timeout=0.05)
        except (TimeoutError, OSError):  # socket.timeout
            pass
        return False

    def close(self):
        self.conn.release()


@pytest.fixture
def services(container_factory, authz_config):
    authz = container_factory(AuthzService, authz_config)
    enterprise = container_factory(FakeEnterpriseService, authz_config)
    authz.start()
    enterprise.start()
    return authz, enterprise


def call(container, method, *args):
    with entrypoint_hook(container, method) as fn:
        return fn(*args)


def enterprise_with_member(authz, enterprise):
    eid = call(enterprise, "register", ADMIN)
    association_id = call(enterprise, "approve", eid, MEMBER)
    app = app_of(authz)
    wait_for(lambda: app.projection.get(eid) is not None and app.projection.get(eid).is_member(MEMBER)
             and app.projection.get(eid).is_certified_admin(ADMIN), what="authz to learn the enterprise")
    return eid, association_id


def test_manual_story_grant_check_revoke(services, authz_amqp_uri):
    authz, enterprise = services
    events = AuthzEvents(authz_amqp_uri)
    try:
        eid, _ = enterprise_with_member(authz, enterprise)
        assert call(authz, "check", MEMBER, eid, "cargo_declaration") is False
        view = call(authz, "set_permissions", ADMIN, eid, MEMBER, ["cargo_declaration", "manifest"])
        assert view["systems"] == ["cargo_declaration", "manifest"]
        assert call(authz, "check", MEMBER, eid, "cargo_declaration") is True  # right after the call
        call(authz, "set_permissions", ADMIN, eid, MEMBER, ["manifest"])
        assert call(authz, "check", MEMBER, eid, "cargo_declaration") is False
        assert call(authz, "get_permissions", MEMBER, eid, MEMBER)["systems"] == ["manifest"]
        events.drain(1, "PermissionRevoked")
        received = events.received
    finally:
        events.close()
    # Registered and RoleCertified may be handled in either order: one or two EnterpriseAdminChanged.
    admin_changes = [m for m in received if m["event_type"] == "EnterpriseAdminChanged"]
    assert admin_changes and admin_changes[-1]["payload"]["role_certified"] is True
    received = [m for m in received if m["event_type"] != "EnterpriseAdminChanged"]
    kinds = [(m["event_type"], m["payload"].get("system")) for m in received]
    assert kinds == [("PermissionGranted", "cargo_declaration"),
                     ("PermissionGranted", "manifest"), ("PermissionRevoked", "cargo_declaration")]
    assert received[0]["payload"]["system_name"] == "货物申报"
    assert received[0]["actor_user_id"] == ADMIN


def test_member_removed_revokes_grants_and_says_so(services, authz_amqp_uri):
    authz, enterprise = services
    eid, association_id = enterprise_with_member(authz, enterprise)
    events = AuthzEvents(authz_amqp_uri)
    try:
        call(authz, "set_permissions", ADMIN, eid, MEMBER, ["processing_trade", "bonded_logistics"])
        call(enterprise, "remove", eid, association_id, MEMBER)
        wait_for(lambda: not call(authz, "check", MEMBER, eid, "processing_trade"), what="revocation")
        assert call(authz, "check", MEMBER, eid, "bonded_logistics") is False
        revoked = events.drain(2, "PermissionRevoked")
    finally:
        events.close()
    assert sorted(m["payload"]["system"] for m in revoked) == ["bonded_logistics", "processing_trade"]
    assert {m["payload"]["reason"] for m in revoked} == {"membership_ended"}
    assert MEMBER not in call(authz, "systems_of_members", eid)


def test_admin_transfer_through_events(services):
    authz, enterprise = services
    eid, _ = enterprise_with_member(authz, enterprise)
    call(authz, "set_permissions", ADMIN, eid, ADMIN, ["certificate_of_origin"])
    assert call(authz, "check", ADMIN, eid, "transport_vehicle") is True
    call(enterprise, "transfer", eid, MEMBER)
    wait_for(lambda: app_of(authz).projection.get(eid).is_certified_admin(MEMBER), what="the transfer")
    assert call(authz, "check", ADMIN, eid, "transport_vehicle") is False
    assert call(authz, "check", ADMIN, eid, "certificate_of_origin") is True
    assert call(authz, "check", MEMBER, eid, "transport_vehicle") is True
    assert call(authz, "systems_of_members", eid) == {ADMIN: ["certificate_of_origin"],
                                                      MEMBER: list(catalogue().codes)}


def test_duplicated_and_reordered_deliveries(container_factory, authz_config, authz_amqp_uri):
    authz = container_factory(AuthzService, authz_config)
    authz.start()
    eid = f"ent-{uuid.uuid4().hex[:8]}"
    story = enterprise_story(eid, ADMIN, MEMBER)
    # newest first, each twice: the handlers see removals before approvals, transfers before
    # the registration, and every event again
    publish_enterprise_events(authz_amqp_uri, list(reversed(story)) * 2)
    app = app_of(authz)
    wait_for(lambda: all(app.is_processed("authz", e["event_id"]) for e in story), what="all events handled")
    access = app.projection.get(eid)
    assert access.admin_user_id == MEMBER
    assert access.members() == {MEMBER}
    assert call(authz, "check", ADMIN, eid, "manifest") is False


def test_checks_served_after_restart_from_the_store(container_factory, authz_config):
    authz = container_factory(AuthzService, authz_config)
    enterprise = container_factory(FakeEnterpriseService, authz_config)
    authz.start()
    enterprise.start()
    eid, _ = enterprise_with_member(authz, enterprise)
    call(authz, "set_permissions", ADMIN, eid, MEMBER, ["cross_border_ecommerce"])
    authz.stop()
    again = container_factory(AuthzService, authz_config)
    again.start()
    assert call(again, "check", MEMBER, eid, "cross_border_ecommerce") is True
    assert call(again, "check", MEMBER, eid, "manifest") is False
    assert call(again, "check", ADMIN, eid, "manifest") is True


def test_concurrent_puts_on_one_enterprise_keep_the_event_log_consistent(services):
    authz, enterprise = services
    eid, _ = enterprise_with_member(authz, enterprise)
    others = [f"u-{i}" for i in range(6)]
    for user in others:
        call(enterprise, "approve", eid, user)
    app = app_of(authz)
    wait_for(lambda: all(app.projection.get(eid).is_member(u) for u in others), what="memberships")
    codes = list(catalogue().codes)
    pool = eventlet.GreenPool()
    sets = {user: codes[i:i + 3] for i, user in enumerate(others)}
    list(pool.imap(lambda u: call(authz, "set_permissions", ADMIN, eid, u, sets[u]), others))
    assert {u: s for u, s in call(authz, "systems_of_members", eid).items() if u in sets} == \
        {u: catalogue().ordered(s) for u, s in sets.items()}
    fresh = type(app)()  # a second reader of the same store sees the same
    assert {u: sorted(fresh.projection.get(eid).granted(u)) for u in others} == \
        {u: sorted(s) for u, s in sets.items()}


def test_second_instance_on_the_same_store_follows_within_the_interval(container_factory, authz_config):
    """Scale-out: a change saved by one instance reaches the checks of another by its follower."""
    one = container_factory(AuthzService, authz_config)
    enterprise = container_factory(FakeEnterpriseService, authz_config)
    one.start()
    enterprise.start()
    eid, _ = enterprise_with_member(authz=one, enterprise=enterprise)
    two = container_factory(AuthzService, authz_config)
    two.start()
    call(one, "set_permissions", ADMIN, eid, MEMBER, ["tax_payment"])
    saved = time.perf_counter()
    wait_for(lambda: call(two, "check", MEMBER, eid, "tax_payment"), 2, "the other instance")
    assert time.perf_counter() - saved < 0.5


def _instances_on_one_store(monkeypatch, fresh_var):
    monkeypatch.setenv("EVENT_STORE", "sqlite")
    a, b = AuthzApplication(), AuthzApplication()
    eid = "ent-conflict"
    for env in enterprise_story(eid, ADMIN, MEMBER)[:4]:
        a.learn(env)
    b.projection.catch_up()
    return a, b, eid


def _stale_once(monkeypatch, app, eid):
    """The next load of `app` returns the enterprise as it is now, even after others change it."""
    stale = [app._load(eid)]
    real = app._load
    monkeypatch.setattr(app, "_load", lambda e: stale.pop() if stale else real(e))


def test_command_conflicting_with_another_instance_is_decided_again(monkeypatch, fresh_var):
    a, b, eid = _instances_on_one_store(monkeypatch, fresh_var)
    _stale_once(monkeypatch, a, eid)
    b.set_permissions(ADMIN, eid, MEMBER, ["manifest"])
    view = a.set_permissions(ADMIN, eid, MEMBER, ["cargo_declaration"])  # first save conflicts
    assert view["granted"] == ["cargo_declaration"]
    b.projection.catch_up()
    assert b.get_permissions(ADMIN, eid, MEMBER)["granted"] == ["cargo_declaration"]  # manifest revoked


def test_event_conflicting_with_another_instance_is_applied_once(monkeypatch, fresh_var):
    a, b, eid = _instances_on_one_store(monkeypatch, fresh_var)
    removal = dict(enterprise_story(eid, ADMIN, MEMBER)[6],
                   payload={"association_id": "assoc-m1", "enterprise_id": eid, "user_id": MEMBER, "role": "user"})
    b.set_permissions(ADMIN, eid, MEMBER, ["manifest"])
    _stale_once(monkeypatch, a, eid)
    b.set_permissions(ADMIN, eid, MEMBER, ["manifest", "cargo_declaration"])
    assert a.learn(removal) is True  # conflicted once, then applied to the fresh state
    assert b.learn(removal) is False
    a.projection.catch_up()
    assert a.projection.get(eid).granted(MEMBER) == set()
    assert not a.projection.get(eid).is_member(MEMBER)

"""The example subscriber of another system (examples/acl_subscriber, plain pika) as a real
process: it follows grants, is stopped while grants and revocations happen, and catches up on
restart; a redelivered event is applied once."""
import json
import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import eventlet
import pytest
from kombu import Connection, Producer
from nameko.testing.services import entrypoint_hook

from contracts.subscriptions import exchange
from services.common.dependency import EventSourced
from services.common.event_keys import key_set
from tests.support import signed

from .authz_support import (AuthzService, app_of,
                                 enterprise_story, publish_enterprise_events, wait_for)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "acl_subscriber" / "acl_subscriber.py"
ADMIN, MEMBER, OTHER = "u-admin", "u-member", "u-other"


class SubscriberProcess:
    def __init__(self, amqp_uri, db, queue, log_path):
        keys = db.parent / "event-keys.json"  # what the gateway serves at /.well-known/event-keys.json
        keys.write_text(json.dumps(key_set().document))
        self.args = [sys.executable, str(SCRIPT), "run", "--amqp-uri", amqp_uri, "--db", str(db), "--queue", queue,
                     "--keys", str(keys)]
        self.log_path = log_path
        self.proc = None

    def start(self):
        self.log_path.write_text("")
        self.proc = subprocess.Popen(self.args, stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT)
        wait_for(lambda: "ready:" in self.log_path.read_text() or self.proc.poll() is not None, 20,
                 "the subscriber to bind its queue")
        assert self.proc.poll() is None, self.log_path.read_text()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: self.proc.poll() is not None, 10, "the subscriber to stop")
        assert self.proc.returncode == 0, self.log_path.read_text()


def acl(db):
    with sqlite3.connect(db) as conn:
        grants = {tuple(r) for r in conn.execute(
            "SELECT enterprise_id, user_id, system FROM grants WHERE allowed = 1")}
        admins = {e: [a, bool(c)] for e, a, c in conn.execute(
            "SELECT enterprise_id, admin_user_id, role_certified FROM admins")}
        processed = conn.execute("SELECT count(*) FROM processed").fetchone()[0]
    return grants, admins, processed


def authz_state(app, eid):
    access = app.projection.get(eid)
    grants = {(eid, user, system) for user, systems in access.grants.items() for system in systems}
    return grants, {eid: [access.admin_user_id, access.admin_certified]}


def relay_idle(container):
    relay = next(d for d in container.dependencies if isinstance(d, EventSourced)).relay
    return relay.pending() == 0


def test_subscriber_catches_up_after_a_stop(container_factory, authz_config, authz_amqp_uri, tmp_path):
    authz = container_factory(AuthzService, authz_config)
    authz.start()
    app = app_of(authz)
    eid = f"ent-{uuid.uuid4().hex[:8]}"
    story = enterprise_story(eid, ADMIN, MEMBER)
    other = dict(story[3], event_id=str(uuid.uuid4()), aggregate_version=8,
                 payload=dict(story[3]["payload"], association_id="assoc-o", user_id=OTHER))
    publish_enterprise_events(authz_amqp_uri, story[:4] + [other])
    wait_for(lambda: app.projection.get(eid) is not None and app.projection.get(eid).is_member(OTHER)
             and app.projection.get(eid).is_certified_admin(ADMIN))

    def put(actor, user, systems):
        with entrypoint_hook(authz, "set_permissions") as set_permissions:
            set_permissions(actor, eid, user, systems)

    db = tmp_path / "acl.sqlite3"
    sub = SubscriberProcess(authz_amqp_uri, db, f"acl-test-{uuid.uuid4().hex[:6]}", tmp_path / "sub.log")
    sub.start()
    put(ADMIN, MEMBER, ["cargo_declaration", "manifest"])
    wait_for(lambda: db.exists() and (eid, MEMBER, "manifest") in acl(db)[0], 10, "the first grants")

    sub.stop()
    # while it is away: more grants, a revocation, the admin handed on, a membership ended
    put(ADMIN, MEMBER, ["manifest", "export_tax_rebate"])
    put(ADMIN, OTHER, ["bonded_logistics", "processing_trade"])
    put(ADMIN, ADMIN, ["certificate_of_origin"])
    publish_enterprise_events(authz_amqp_uri, story[4:6])  # AdminTransferred ADMIN -> MEMBER, RoleCertified
    wait_for(lambda: app.projection.get(eid).is_certified_admin(MEMBER))
    put(MEMBER, OTHER, ["bonded_logistics"])
    publish_enterprise_events(authz_amqp_uri, [story[6]])  # the former admin removed: grants revoked
    wait_for(lambda: not app.check(ADMIN, eid, "certificate_of_origin"))
    wait_for(lambda: relay_idle(authz), 10, "the relay to publish everything")
    grants_before_restart = acl(db)[0]
    assert (eid, MEMBER, "export_tax_rebate") not in grants_before_restart

    sub.start()
    expected_grants, expected_admins = authz_state(app, eid)
    assert expected_grants == {(eid, MEMBER, "manifest"), (eid, MEMBER, "export_tax_rebate"),
                               (eid, OTHER, "bonded_logistics")}
    wait_for(lambda: acl(db)[:2] == (expected_grants, expected_admins), 15, "the subscriber to catch up")

    # An event delivered again (e.g. republished by the relay after a crash) is applied once.
    processed = acl(db)[2]
    with Connection(authz_amqp_uri) as conn:
        replay = app.recorder.select_notifications(start=0, limit=1000)
        from services.authz.integration import to_integration
        first_grant = next(env for n in replay for env in to_integration(app.mapper.to_domain_event(n))
                           if env["event_type"] == "PermissionGranted")
        producer = Producer(conn.channel(), exchange=exchange("authz"), serializer="json")
        producer.publish(signed(first_grant), routing_key="PermissionGranted")
        forged = {**signed(first_grant), "event_id": str(uuid.uuid4())}  # a signature over another event
        producer.publish(forged, routing_key="PermissionGranted")
        producer.publish({**first_grant, "event_id": str(uuid.uuid4())}, routing_key="PermissionGranted")
    eventlet.sleep(1.0)
    assert acl(db) == (expected_grants, expected_admins, processed)
    assert "repeat skipped PermissionGranted" in sub.log_path.read_text()
    assert sub.log_path.read_text().count("not signed by authz") == 2  # the forged and the unsigned one
    sub.stop()

    check = subprocess.run([sys.executable, str(SCRIPT), "check", "--db", str(db), MEMBER, eid, "transport_vehicle"],
                           capture_output=True, text=True, timeout=30)
    # the new administrator: every system
    assert check.stdout.strip() == json.dumps({"allowed": True}), (check.stdout, check.stderr)

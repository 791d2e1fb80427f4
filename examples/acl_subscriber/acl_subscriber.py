#!/usr/bin/env python3
"""An access-control cache kept by another system from the platform's authz events.

A standalone program: pika, cryptography and the standard library, nothing from the platform's code.
It consumes its own durable queue bound to the topic exchange `authz.events`, applies each event
to a small SQLite file, and acknowledges only after the change is committed, so a stop (or a
crash) at any point loses nothing: what was not acknowledged is delivered again, and what was
already applied is recognised by its `event_id` and skipped. While it is stopped, the queue keeps
collecting events; on restart it catches up. It believes only events that authz signed: a key of
the published set (--keys: the gateway's /.well-known/event-keys.json, or a copy of it) whose
`eport_source` is authz verifies the envelope's signature; any other event is logged and dropped.

    python examples/acl_subscriber/acl_subscriber.py run   --db acl.sqlite3 --keys http://localhost:8000/.well-known/event-keys.json
    python examples/acl_subscriber/acl_subscriber.py check --db acl.sqlite3 USER_ID ENTERPRISE_ID SYSTEM
    python examples/acl_subscriber/acl_subscriber.py dump  --db acl.sqlite3

See docs/subscribers.md for the envelope and the events.
"""
import argparse
import json
import logging
import os
import signal
import sqlite3
import sys
import base64
import time
import urllib.request
from datetime import datetime, UTC

import pika
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EXCHANGE = "authz.events"
ROUTING_KEYS = ("PermissionGranted", "PermissionRevoked", "EnterpriseAdminChanged")
DEFAULT_QUEUE = "acl-example.authz-events"

SOURCE = "authz"
log = logging.getLogger("acl_subscriber")


def _b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class EventKeys:
    """The platform's published event keys (docs/subscribers.md), fetched again for an unknown kid."""

    def __init__(self, where):
        self.where, self.keys = where, {}
        self.load()

    def load(self):
        if self.where.startswith(("http://", "https://")):
            with urllib.request.urlopen(self.where, timeout=10) as answer:
                document = json.load(answer)
        else:
            with open(self.where, encoding="utf-8") as f:
                document = json.load(f)
        self.keys = {k["kid"]: k for k in document["keys"] if k.get("crv") == "Ed25519"}

    def genuine(self, envelope):
        """Whether the source the envelope names signed it (RFC 8785 form of the other members)."""
        sig = envelope.get("signature") or {}
        if sig.get("kid") not in self.keys and sig.get("kid"):
            self.load()  # a key rotated in since we started
        key = self.keys.get(sig.get("kid"))
        if key is None or key.get("eport_source") != envelope.get("source") or envelope.get("source") != SOURCE:
            return False
        signed = {k: v for k, v in envelope.items() if k != "signature"}
        text = json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        try:
            Ed25519PublicKey.from_public_bytes(_b64url(key["x"])).verify(_b64url(sig.get("sig", "")), text)
        except Exception:  # InvalidSignature, or a sig that is not base64url of 64 bytes
            return False
        return True

SCHEMA = """
CREATE TABLE IF NOT EXISTS processed (event_id TEXT PRIMARY KEY, event_type TEXT NOT NULL, applied_at TEXT NOT NULL);
-- One row per (enterprise, user, system) ever mentioned; `version` is the authz aggregate version
-- of the event that set it, so an older event handled after a newer one changes nothing.
CREATE TABLE IF NOT EXISTS grants (
    enterprise_id TEXT NOT NULL, user_id TEXT NOT NULL, system TEXT NOT NULL,
    allowed INTEGER NOT NULL, version INTEGER NOT NULL,
    PRIMARY KEY (enterprise_id, user_id, system));
-- The enterprise's administrator is allowed every system without grants once the role is certified
-- (角色认证), none before.
CREATE TABLE IF NOT EXISTS admins (
    enterprise_id TEXT PRIMARY KEY, admin_user_id TEXT NOT NULL, role_certified INTEGER NOT NULL,
    version INTEGER NOT NULL);
"""


class AclCache:
    def __init__(self, path):
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def apply(self, envelope):
        """Apply one event in one transaction; False when its event_id was applied before."""
        payload = envelope["payload"]
        version = int(envelope["aggregate_version"])
        kind = envelope["event_type"]
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            seen = db.execute("INSERT OR IGNORE INTO processed VALUES (?, ?, ?)",
                              (envelope["event_id"], kind, datetime.now(UTC).isoformat())).rowcount == 0
            if not seen:
                if kind in ("PermissionGranted", "PermissionRevoked"):
                    db.execute(
                        "INSERT INTO grants VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (enterprise_id, user_id, system) DO UPDATE "
                        "SET allowed = excluded.allowed, version = excluded.version "
                        "WHERE excluded.version > grants.version",
                        (payload["enterprise_id"], payload["user_id"], payload["system"],
                         1 if kind == "PermissionGranted" else 0, version))
                elif kind == "EnterpriseAdminChanged":
                    db.execute(
                        "INSERT INTO admins VALUES (?, ?, ?, ?) ON CONFLICT (enterprise_id) DO UPDATE "
                        "SET admin_user_id = excluded.admin_user_id, role_certified = excluded.role_certified, "
                        "version = excluded.version WHERE excluded.version > admins.version",
                        (payload["enterprise_id"], payload["admin_user_id"],
                         1 if payload.get("role_certified") else 0, version))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return not seen

    def allowed(self, user_id, enterprise_id, system):
        row = self.db.execute("SELECT admin_user_id, role_certified FROM admins WHERE enterprise_id = ?",
                              (enterprise_id,)).fetchone()
        if row and row[0] == user_id:
            return bool(row[1])  # an uncertified administrator is allowed nothing
        row = self.db.execute("SELECT allowed FROM grants WHERE enterprise_id = ? AND user_id = ? AND system = ?",
                              (enterprise_id, user_id, system)).fetchone()
        return bool(row and row[0])

    def dump(self):
        return {
            "admins": {e: [a, bool(c)] for e, a, c in self.db.execute(
                "SELECT enterprise_id, admin_user_id, role_certified FROM admins")},
            "grants": sorted(list(r) for r in self.db.execute(
                "SELECT enterprise_id, user_id, system FROM grants WHERE allowed = 1")),
            "processed": self.db.execute("SELECT count(*) FROM processed").fetchone()[0],
        }


class Subscriber:
    def __init__(self, amqp_uri, queue, cache, keys, prefetch=50):
        self.amqp_uri = amqp_uri
        self.keys = keys
        self.queue = queue
        self.cache = cache
        self.prefetch = prefetch
        self.stopping = False

    def stop(self, *_):
        self.stopping = True

    def run(self):
        backoff = 0.5
        while not self.stopping:
            try:
                self._consume()
                backoff = 0.5
            except pika.exceptions.AMQPError as exc:  # broker away: come back, the queue waited for us
                log.warning("AMQP connection lost (%s); reconnecting in %.1fs", exc.__class__.__name__, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10)

    def _consume(self):
        conn = pika.BlockingConnection(pika.URLParameters(self.amqp_uri))
        try:
            ch = conn.channel()
            # The exchange is the platform's: its broker setup declares it, and our broker user needs
            # only read on it (configure would let us delete it). Asked passively: a platform not
            # set up yet is an error, retried with back-off. Our queue is durable and never
            # auto-deleted, so events published while we are stopped wait for us in it.
            ch.exchange_declare(EXCHANGE, exchange_type="topic", passive=True)
            ch.queue_declare(self.queue, durable=True)
            for key in ROUTING_KEYS:
                ch.queue_bind(self.queue, EXCHANGE, routing_key=key)
            ch.basic_qos(prefetch_count=self.prefetch)
            print(f"ready: consuming {self.queue} bound to {EXCHANGE} {list(ROUTING_KEYS)}", flush=True)
            for method, _props, body in ch.consume(self.queue, auto_ack=False, inactivity_timeout=0.5):
                if self.stopping:
                    break
                if method is None:  # idle: look at `stopping` again
                    continue
                self._handle(ch, method, body)
            ch.cancel()  # hands back what was delivered but not acknowledged
        finally:
            if conn.is_open:
                conn.close()

    def _handle(self, ch, method, body):
        try:
            envelope = json.loads(body)
            envelope["payload"], envelope["event_id"], envelope["aggregate_version"]  # noqa: B018
        except (ValueError, KeyError, TypeError):
            log.error("dropping a malformed message: %r", body[:200])
            ch.basic_ack(method.delivery_tag)  # it would fail forever
            return
        if not self.keys.genuine(envelope):  # forged, altered or unsigned: never applied
            log.error("dropping %s %s: not signed by %s", envelope.get("event_type"), envelope["event_id"], SOURCE)
            ch.basic_ack(method.delivery_tag)
            return
        try:
            applied = self.cache.apply(envelope)
        except sqlite3.Error:
            log.exception("could not apply %s; it will come again", envelope["event_id"])
            ch.basic_nack(method.delivery_tag, requeue=True)
            time.sleep(1)
            return
        ch.basic_ack(method.delivery_tag)  # only now: the change is committed
        log.info("%s %s %s", "applied" if applied else "repeat skipped", envelope["event_type"],
                 envelope["event_id"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("run", "check", "dump"))
    parser.add_argument("args", nargs="*", help="check: USER_ID ENTERPRISE_ID SYSTEM")
    parser.add_argument("--amqp-uri", default=os.environ.get("AMQP_URI", "amqp://guest:guest@localhost:5672/"))
    parser.add_argument("--queue", default=DEFAULT_QUEUE, help="this system's own durable queue")
    parser.add_argument("--db", default="acl.sqlite3", help="the SQLite file of the cache")
    parser.add_argument("--keys", default=os.environ.get("EPORT_EVENT_KEYS_URL"),
                        help="run: the platform's event keys, a URL (…/.well-known/event-keys.json) or a file")
    args = parser.parse_intermixed_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cache = AclCache(args.db)
    if args.command == "check":
        if len(args.args) != 3:
            parser.error("check needs USER_ID ENTERPRISE_ID SYSTEM")
        allowed = cache.allowed(*args.args)
        print(json.dumps({"allowed": allowed}))
        return 0 if allowed else 1
    if args.command == "dump":
        print(json.dumps(cache.dump(), ensure_ascii=False, indent=2))
        return 0
    if not args.keys:
        parser.error("run needs --keys: the platform's /.well-known/event-keys.json (or a copy)")
    subscriber = Subscriber(args.amqp_uri, args.queue, cache, EventKeys(args.keys))
    signal.signal(signal.SIGTERM, subscriber.stop)
    signal.signal(signal.SIGINT, subscriber.stop)
    subscriber.run()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The audit service: records every integration event of the platform and answers audit queries."""
from datetime import datetime, timezone

from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy

from contracts import errors as e
from contracts.errors import ServiceError, ValidationFailed
from services.common.context import RequestContext
from services.common.messaging import on_event
from services.common.rpc import rpc
from services.common.settings import var_dir

from .store import AuditStore

MAX_LIMIT = 500


class AuditLog(DependencyProvider):
    def setup(self):
        self.store = AuditStore(var_dir() / "audit.db")

    def get_dependency(self, worker_ctx):
        return self.store

    def stop(self):
        self.store.close()


def _instant(name, value):
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationFailed({name: ["Not an ISO 8601 timestamp."]}) from None
    if parsed.tzinfo is None:
        raise ValidationFailed({name: ["The timestamp needs a time zone (e.g. +08:00 or Z)."]})
    return parsed.astimezone(timezone.utc).isoformat()


def _text(name, value, max_length=200):
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > max_length:
        raise ValidationFailed({name: [f"A string of at most {max_length} characters."]})
    return value


def _filters(event_type, user_id, since, until, limit, correlation_id=None):
    """The checked filters of an audit query (400 naming the field otherwise)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed({"limit": [f"Between 1 and {MAX_LIMIT}."]})
    return {"event_type": _text("event_type", event_type), "user_id": _text("user_id", user_id),
            "since": _instant("since", since), "until": _instant("until", until), "limit": limit,
            "correlation_id": _text("correlation_id", correlation_id, max_length=128)}


class AuditService:
    name = "audit"

    log = AuditLog()
    context = RequestContext()
    enterprise = RpcProxy("enterprise")

    @rpc
    def ping(self):
        return "pong"

    @on_event("audit", "identity")
    def on_identity_event(self, envelope):
        self.log.record(envelope)

    @on_event("audit", "enterprise")
    def on_enterprise_event(self, envelope):
        self.log.record(envelope)

    @on_event("audit", "card")
    def on_card_event(self, envelope):
        self.log.record(envelope)

    @on_event("audit", "authz")
    def on_authz_event(self, envelope):
        self.log.record(envelope)

    @rpc
    def events(self, event_type=None, user_id=None, enterprise_id=None, since=None, until=None, limit=100,
               correlation_id=None):
        """The whole platform's audit log, newest first, for its operators and auditors
        (`python -m deploy.audit`). Not routed by the gateway: only what reaches the broker asks.
        `correlation_id`: only the events one HTTP request (its X-Request-ID) caused."""
        filters = _filters(event_type, user_id, since, until, limit, correlation_id)
        return {"items": self.log.query(enterprise_id=_text("enterprise_id", enterprise_id), **filters)}

    @rpc
    def enterprise_events(self, actor_user_id, enterprise_id, event_type=None, user_id=None,
                          since=None, until=None, limit=100, correlation_id=None):
        """The audit trail of one enterprise, newest first, with its members' account events from
        while they were members (services/audit/store.py); for its administrator only."""
        membership = self.enterprise.membership(actor_user_id, enterprise_id)
        if not membership or membership.get("role") != "admin" or membership.get("status") != "approved":
            raise ServiceError(e.FORBIDDEN, "Only the enterprise's administrator may read its audit trail.")
        filters = _filters(event_type, user_id, since, until, limit, correlation_id)
        return {"items": self.log.query(enterprise_id=enterprise_id, **filters)}

"""The audit service: records every integration event of the platform and answers audit queries."""
from nameko.extensions import DependencyProvider

from services.common import context as worker_context
from services.common.context import BROKER_USER, RequestContext
from services.common.erasure import ErasureFollower, ForgetsErased
from services.common.messaging import on_event
from services.common.operations import Operated, Rebuilding
from services.common.rpc import RpcProxy, rpc

from .application import AuditApplication
from .operations import operation_record
from .rebuild import AuditRebuild
from .store import open_store


class AuditLog(Rebuilding, DependencyProvider):
    rebuildable_projections = ("audit-log",)

    def setup(self):
        self.store = open_store()

    def get_dependency(self, worker_ctx):
        return self.store

    def stop(self):
        self.store.close()

    def operations_status(self):
        return {"store": "audit-log", "stored": self.store.count(), "published": None, "lag": None}

    def make_rebuild(self, fetch, page):  # `eport rebuild audit-log`
        return AuditRebuild(self.store, fetch, page=page)


class AuditService(ForgetsErased, Operated):
    name = "audit"

    log = AuditLog()
    context = RequestContext()
    enterprise = RpcProxy("enterprise")
    identity = RpcProxy("identity")
    erasure = ErasureFollower("audit")

    @on_event("audit", "identity")
    def on_identity_event(self, envelope):
        self.log.record(envelope)  # UserErased too: the audit trail's entry of the request
        self.erasure.erase(envelope, self.identity, purge=self.log.pseudonymize)

    @on_event("audit", "enterprise")
    def on_enterprise_event(self, envelope):
        self.log.record(envelope)

    @on_event("audit", "card")
    def on_card_event(self, envelope):
        self.log.record(envelope)

    @on_event("audit", "authz")
    def on_authz_event(self, envelope):
        self.log.record(envelope)

    @on_event("audit", "sso")
    def on_sso_event(self, envelope):
        self.log.record(envelope)

    @rpc
    def events(self, event_type=None, user_id=None, enterprise_id=None, since=None, until=None, limit=100,
               correlation_id=None):
        """The whole platform's audit log, newest first (`python -m deploy.audit`). Not routed by the
        gateway: only what reaches the broker asks."""
        return self._app().events(event_type, user_id, enterprise_id, since, until, limit, correlation_id)

    @rpc
    def personal_data(self, user_id):
        """Its part of a person's export; only the gateway asks, with the user id of a verified token."""
        return self._app().personal_data(user_id)

    @rpc
    def record_operation(self, action, target, details=None):
        """An operator's action, recorded before it acts (services/audit/operations.py); only the
        operators' broker user reaches it, and it is recorded under the request's broker user."""
        record = operation_record(worker_context.value(BROKER_USER), action, target, details)
        self.log.record(record)
        return {"event_id": record["event_id"], "occurred_at": record["occurred_at"]}

    @rpc
    def enterprise_events(self, actor_user_id, enterprise_id, event_type=None, user_id=None,
                          since=None, until=None, limit=None, correlation_id=None, cursor=None):
        return self._app().enterprise_events(actor_user_id, enterprise_id, event_type, user_id, since, until, limit,
                                             correlation_id, cursor)

    def _app(self):
        return AuditApplication(self.log, self.enterprise)

"""The authz service: business-system catalogue, grants, and checks (entrypoints only)."""
import logging

import eventlet

from services.common.dependency import EventSourced
from services.common.erasure import ErasureFollower, ForgetsErased
from services.common.messaging import on_event
from services.common.operations import Operated, Rebuilding
from services.common.outages import Retrying
from services.common.rpc import RpcProxy, rpc
from services.common.settings import setting

from .application import AuthzApplication
from .rebuild import AuthzRebuild
from .integration import to_integration

log = logging.getLogger(__name__)


def follow_seconds():
    """How stale a check may be about changes saved by *another* authz instance sharing the store;
    0 turns following off (one instance: its own saves update its projection as they happen)."""
    return float(setting("AUTHZ_FOLLOW_SECONDS"))


class AuthzEventSourced(Rebuilding, EventSourced):
    """The application plus a green thread keeping its projection up with the shared store.

    Saves of this process update the projection themselves; this only matters when several
    instances of the service share one event store. `eport rebuild authz` rebuilds the projection.
    """

    rebuildable_projections = ("authz",)

    def make_rebuild(self, fetch, page):
        return AuthzRebuild(self.app, fetch, page)

    _following = False
    _pause = 0.0

    def start(self):
        super().start()
        self._pause = follow_seconds()
        if self._pause > 0:
            self._following = True
            self.container.spawn_managed_thread(self._follow_forever)

    def stop(self):
        self._following = False
        super().stop()

    def _follow_forever(self):
        retrying = Retrying(log, "authz projection catch-up", first=1.0)
        while self._following:
            try:
                self.app.projection.catch_up()
            except Exception:  # store briefly unavailable: keep serving what is known
                eventlet.sleep(retrying.failed())
                continue
            retrying.worked()
            eventlet.sleep(self._pause)


class AuthzService(ForgetsErased, Operated):
    name = "authz"
    app = AuthzEventSourced(AuthzApplication, to_integration)
    identity = RpcProxy("identity")
    erasure = ErasureFollower("authz")

    @rpc
    def list_systems(self):
        return self.app.list_systems()

    @rpc
    def personal_data(self, user_id):
        """Its part of a person's export; only the gateway asks, with the user id of a verified token."""
        return self.app.personal_data(user_id)

    @rpc
    def check(self, user_id, enterprise_id, system):
        return self.app.check(user_id, enterprise_id, system)

    @rpc
    def check_as(self, actor_user_id, user_id, enterprise_id, system):
        return self.app.check_as(actor_user_id, user_id, enterprise_id, system)

    @rpc
    def get_permissions(self, actor_user_id, enterprise_id, user_id):
        return self.app.get_permissions(actor_user_id, enterprise_id, user_id)

    @rpc
    def set_permissions(self, actor_user_id, enterprise_id, user_id, systems):
        return self.app.set_permissions(actor_user_id, enterprise_id, user_id, systems)

    @rpc
    def systems_of_members(self, enterprise_id):
        return self.app.systems_of_members(enterprise_id)

    @on_event("authz", "identity")
    def on_identity_event(self, envelope):  # UserErased (services/common/erasure.py)
        self.erasure.erase(envelope, self.identity)

    @on_event("authz", "enterprise")
    def on_enterprise_event(self, envelope):
        self.app.learn(envelope)

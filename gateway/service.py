"""The HTTP gateway: no business rules; it parses, authenticates, calls RPC and maps errors.

Each area of shared/API.md has its own mixin of routes in gateway/<area>_routes.py.
"""
from datetime import datetime

from nameko.events import BROADCAST
from nameko.constants import NON_PERSISTENT

from services.common.heap import FrozenHeap
from services.common.rpc import RpcProxy, UnconfirmedRpcProxy

from .audit_routes import AuditRoutes
from .authz_routes import AuthzRoutes
from .card_routes import CardRoutes
from .check_answers import CheckAnswers
from .idempotency import CommandIds
from .enterprise_routes import EnterpriseRoutes
from .erasure_routes import ErasureRoutes
from .identity_routes import IdentityRoutes
from .me_routes import MeRoutes
from .messages_routes import MessagesRoutes
from .personal_data_routes import PersonalDataRoutes
from .platform_routes import PlatformRoutes
from .routing import Actor, bearer_token, call
from .sessions import SessionCheck, revocation_handler
from .sso_routes import SsoRoutes


def backend(service):
    """An RPC proxy for the routes: transient requests (a persistent one waits for the broker's
    disk before it is even routed) without publisher confirms (waiting for one cost a broker round
    trip on every request; bench/authz.py). An HTTP caller whose request the broker lost gets a 503
    at the deadline and retries anyway; a service that stopped keeps its durable RPC queue, so its
    requests wait there for it, confirmed or not."""
    return UnconfirmedRpcProxy(service, delivery_mode=NON_PERSISTENT)


class GatewayService(IdentityRoutes, MeRoutes, ErasureRoutes, EnterpriseRoutes, MessagesRoutes, CardRoutes, AuthzRoutes,
                     AuditRoutes, SsoRoutes, PersonalDataRoutes, PlatformRoutes):
    name = "gateway"

    identity = backend("identity")
    enterprise = backend("enterprise")
    card = backend("card")
    authz = backend("authz")
    notify = backend("notify")
    audit = backend("audit")
    sso = backend("sso")
    # Confirmed, for the services a deployment may leave out (enterprise_routes.optional_rpc): a
    # confirmed request to a service that never started comes back at once as UnknownService.
    card_if_deployed = RpcProxy("card", delivery_mode=NON_PERSISTENT)
    authz_if_deployed = RpcProxy("authz", delivery_mode=NON_PERSISTENT)

    sessions = SessionCheck()
    commands = CommandIds()  # each state-changing request's command id, for its retries
    check_answers = CheckAnswers()  # authz's answers to checks, repeated for a fraction of a second
    heap = FrozenHeap()  # the start-up's objects out of full collections: the checks' p99 tail

    def authenticate(self, request):
        user_id, session_id = self.sessions.verify(bearer_token(request), self._ended_sessions, self._token_keys)
        return Actor(user_id=user_id, session_id=session_id)

    def _token_keys(self):
        return call(self.identity.token_keys)

    def _ended_sessions(self):
        return {"revoked": call(self.identity.revoked_sessions),
                "ended": call(self.identity.sessions_ended_by_reset)}

    # A queue of this instance's own (broadcast): every gateway instance hears every logout; after a
    # reconnect it loads again what it may have missed (gateway/sessions.py).
    @revocation_handler("identity", "SessionRevoked", handler_type=BROADCAST, reliable_delivery=False)
    def on_session_revoked(self, envelope):
        revoked_at = datetime.fromisoformat(envelope["occurred_at"]).timestamp()
        self.sessions.revoke(envelope["payload"]["session_id"], revoked_at)

    @revocation_handler("identity", "UserSuperseded", handler_type=BROADCAST, reliable_delivery=False)
    def on_user_superseded(self, envelope):
        # every session of the account has ended and it gets no new one (services/identity/claims.py):
        # a mark a second past the event leaves no token of it, whatever the issuing clocks said
        ended_at = datetime.fromisoformat(envelope["occurred_at"]).timestamp() + 1
        self.sessions.end_sessions_of(envelope["payload"]["user_id"], ended_at)

    @revocation_handler("identity", "UserErased", handler_type=BROADCAST, reliable_delivery=False)
    def on_user_erased(self, envelope):
        # every session of the erased account has ended and it gets no new one (services/identity/erasures.py)
        ended_at = datetime.fromisoformat(envelope["occurred_at"]).timestamp() + 1
        self.sessions.end_sessions_of(envelope["payload"]["user_id"], ended_at)

    @revocation_handler("identity", "PasswordSet", handler_type=BROADCAST, reliable_delivery=False)
    def on_password_set(self, envelope):
        if envelope["payload"].get("ends_sessions") is True:  # identity says so (a reset): not our rule
            ended_at = datetime.fromisoformat(envelope["occurred_at"]).timestamp()
            self.sessions.end_sessions_of(envelope["payload"]["user_id"], ended_at)

"""The HTTP gateway: no business rules; it parses, authenticates, calls RPC and maps errors.

Each area of shared/API.md has its own mixin of routes in gateway/<area>_routes.py.
"""
from nameko.rpc import RpcProxy

from .audit_routes import AuditRoutes
from .authz_routes import AuthzRoutes
from .card_routes import CardRoutes
from .enterprise_routes import EnterpriseRoutes
from .identity_routes import IdentityRoutes
from .me_routes import MeRoutes
from .messages_routes import MessagesRoutes
from .platform_routes import PlatformRoutes
from .routing import Actor, bearer_token, call


class GatewayService(IdentityRoutes, MeRoutes, EnterpriseRoutes, MessagesRoutes, CardRoutes, AuthzRoutes,
                     AuditRoutes, PlatformRoutes):
    name = "gateway"

    identity = RpcProxy("identity")
    enterprise = RpcProxy("enterprise")
    card = RpcProxy("card")
    authz = RpcProxy("authz")
    notify = RpcProxy("notify")
    audit = RpcProxy("audit")

    def authenticate(self, request):
        session = call(self.identity.authenticate, bearer_token(request))
        return Actor(user_id=session["user_id"], session_id=session["session_id"])

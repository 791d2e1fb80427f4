"""The single sign-on service (OpenID Provider): thin RPC entrypoints over flows.py and the application.

The gateway serves its endpoints (gateway/sso_routes.py) and hands each HTTP request over as a dict:
the protocol's rules are all here, on Authlib (provider.py), the state event-sourced (application.py).
"""
from services.common.dependency import EventSourced
from services.common.erasure import ErasureFollower, ForgetsErased
from services.common.messaging import on_event
from services.common.operations import Operated
from services.common.rpc import RpcProxy, rpc

from . import browser, flows
from .backchannel import deliver, on_logout_due
from .application import SsoApplication
from .integration import to_integration
from .peers import Peers
from .provider import Provider


class SsoService(ForgetsErased, Operated):
    name = "sso"

    app = EventSourced(SsoApplication, to_integration)
    identity = RpcProxy("identity")
    enterprise = RpcProxy("enterprise")
    authz = RpcProxy("authz")
    erasure = ErasureFollower("sso")

    def _peers(self):
        return Peers(self.identity, self.enterprise, self.authz)

    def _provider(self):
        return Provider(self.app, self._peers())

    @on_event("sso", "identity")
    def on_identity_event(self, envelope):
        # what ends sign-ons (logouts.py): UserErased too, its sign-ons ended first, then erased
        # (services/common/erasure.py)
        if not self.erasure.erase(envelope, self.identity, purge=lambda user_id: self.app.learn(envelope)):
            self.app.learn(envelope)

    # -- what else ends sign-ons, and the logout tokens it owes (logouts.py, backchannel.py) -------------
    @on_event("sso", "enterprise")
    def on_enterprise_event(self, envelope):
        self.app.learn(envelope)

    @on_event("sso", "authz")
    def on_authz_event(self, envelope):
        self.app.learn(envelope)

    @on_logout_due("sso", "sso")
    def on_logout_due(self, envelope):
        deliver(self.app, self._peers(), envelope)

    @rpc
    def discovery(self):
        return flows.discovery()

    @rpc
    def authorize(self, http):
        return self.app.authorize(self._provider(), http)

    @rpc
    def token(self, http):
        return self.app.token(self._provider(), http)

    @rpc
    def userinfo(self, http):
        return self.app.userinfo(self._provider(), http)

    @rpc
    def logout(self, http):
        return self.app.logout(self._provider(), http)

    @rpc
    def personal_data(self, user_id):
        """Its part of a person's export; only the gateway asks, with the user id of a verified token."""
        return self.app.personal_data(user_id)

    @rpc
    def token_preflight(self, http):
        return browser.preflight(self._provider(), http)

    @rpc
    def choices(self, http):
        """The console's chooser: the person's enterprises for the authorization it was given."""
        return browser.choices(self._provider(), http)

    @rpc
    def begin_session(self, identity_token):
        """The provider session of the holder of an identity session (its API token): identity says whose
        session it is and when its login was made, which the caller cannot choose."""
        return self.app.begin_session(self._peers().identity_session(identity_token))

    # -- the operators' `eport clients` ------------------------------------------------------------------
    @rpc
    def add_client(self, name, system, redirect_uris, post_logout_redirect_uris=(), backchannel_logout_uri=None,
                   require_grant=True, public=False):
        known = self._peers().system_codes() if system else None  # the catalogue, from authz
        return self.app.add_client(name, system, redirect_uris, post_logout_redirect_uris, backchannel_logout_uri,
                                   require_grant, known_systems=known, public=public)

    @rpc
    def list_clients(self):
        return self.app.list_clients()

    @rpc
    def remove_client(self, client_id):
        return self.app.remove_client(client_id)

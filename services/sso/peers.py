"""What single sign-on asks the other services, with deadlines (a service away is a 503)."""
from contracts.enterprise import APPROVED
from contracts.tokens import TokenVerifier
from services.common.rpc import RPC_DEADLINE, call_with_deadline


class Peers:
    def __init__(self, identity, enterprise, authz, timeout=RPC_DEADLINE):
        self.identity, self.enterprise, self.authz = identity, enterprise, authz
        self.timeout = timeout

    def _call(self, method, *args):
        return call_with_deadline(method, *args, deadline=self.timeout)

    def user(self, user_id):
        """identity.get_user: {user_id, name, identity_verified, ...}."""
        return self._call(self.identity.get_user, user_id)

    def identity_session(self, token):
        """identity.authenticate: {user_id, session_id, auth_time (its login), expires_at} of an API token;
        UNAUTHENTICATED for one expired or revoked."""
        return self._call(self.identity.authenticate, token)

    def memberships(self, user_id):
        """The enterprises the person acts for now (approved associations), oldest first."""
        return [a for a in self._call(self.enterprise.associations_of_user, user_id) if a["status"] == APPROVED]

    def systems(self, user_id, enterprise_id):
        """The systems the person may use in the enterprise (authz: granted, or all for a certified
        administrator)."""
        return [s["code"] if isinstance(s, dict) else s
                for s in self._call(self.authz.get_permissions, user_id, enterprise_id, user_id)["systems"]]

    def sign(self, claims):
        """identity signs single sign-on's tokens: the platform's key never leaves it."""
        return self._call(self.identity.sign_client_token, claims)

    def token_keys(self):
        """A verifier of identity's JWK set: the id_token_hint of a logout was signed with one of them."""
        return TokenVerifier(self._call(self.identity.token_keys))

    def system_codes(self):
        """The codes of the catalogue of business systems (authz, GET /api/v1/systems)."""
        return [s["code"] for s in self._call(self.authz.list_systems)]

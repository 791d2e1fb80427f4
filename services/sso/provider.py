"""The OpenID Provider on Authlib: authorization code flow only, with the platform's rules on top.

- Confidential clients authenticate with client_secret_basic only; public ones (relying parties in the
  browser, `eport clients add --public`) with `none` only, and their refresh tokens are bound to them as
  every client's are (application.family_of_refresh).
- PKCE S256 of every client, confidential ones too (Authlib's CodeChallenge alone exempts them
  and accepts `plain`): `S256Only`.
- Redirect URIs are the registered strings, compared as strings (`ClientModel.check_redirect_uri`).
- A code is used once; a second use ends what the first gave (application.code_for / start_family).
- Refresh tokens rotate; a reused one ends its family (application.family_of_refresh / rotate).
- The person must still be a member of the login's enterprise, and granted the client's system when
  it requires a grant, at every code exchange and every refresh: else invalid_grant, family ended.
"""
import time
import uuid

from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.util import create_half_hash

from contracts.errors import USER_NOT_FOUND, ServiceError
from services.common.settings import issuer

from .adapter import PlainRequest, answer
from .application import access_ttl, token_of
from .claims import Person
from .domain import same_digest

SCOPES = ("openid", "profile", "offline_access")
ID_TOKEN_TTL = 600


class ClientModel(ClientMixin):
    def __init__(self, client):
        self.client = client

    def get_client_id(self):
        return str(self.client.id)

    def get_default_redirect_uri(self):
        return None  # every request names its redirect URI

    def get_allowed_scope(self, scope):
        return " ".join(s for s in (scope or "").split() if s in SCOPES or s.startswith("eport:enterprise:"))

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.client.redirect_uris  # exact strings: no prefix, no normalisation

    def check_client_secret(self, client_secret):
        return same_digest(client_secret, self.client.secret_digest)

    def check_endpoint_auth_method(self, method, endpoint):
        return method == self.client.auth_method  # a confidential client never passes with `none`

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in ("authorization_code", "refresh_token")


class S256Only(CodeChallenge):
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: give code_challenge with code_challenge_method=S256.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Only code_challenge_method=S256 is supported.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant, result):
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'.")
        super().validate_code_verifier(grant, result)

    def get_authorization_code_challenge(self, authorization_code):
        return authorization_code.code.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code):
        return "S256"


class CodeModel:
    """An AuthorizationCode aggregate as Authlib reads it."""

    def __init__(self, code):
        self.code = code

    def get_redirect_uri(self):
        return self.code.redirect_uri

    def get_scope(self):
        return self.code.scope

    def get_nonce(self):
        return self.code.nonce

    def get_auth_time(self):
        return int(self.code.auth_time)

    def get_acr(self):
        return None

    def get_amr(self):
        return None


class FamilyModel:
    """A TokenFamily as Authlib's refresh grant reads it."""

    def __init__(self, family):
        self.family = family

    def check_client(self, client):
        return self.family.client_id == client.get_client_id()

    def get_scope(self):
        return self.family.scope

    def get_expires_in(self):
        return access_ttl()

    def is_expired(self):
        return False  # family_of_refresh answers only unexpired ones

    def is_revoked(self):
        return self.family.ended


AUTH_METHODS = ["client_secret_basic", "none"]  # each client passes only with its own (check_endpoint_auth_method)


class CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def save_authorization_code(self, code, request):
        person = request.user
        self.server.app.save_code(self.server.run, code, client_id=request.client.get_client_id(),
                                  user_id=person.user_id, enterprise_id=person.enterprise_id,
                                  session_id=person.session_id, redirect_uri=request.payload.redirect_uri,
                                  scope=request.scope or "", nonce=request.payload.data.get("nonce"),
                                  code_challenge=request.payload.data["code_challenge"],
                                  auth_time=person.auth_time)

    def query_authorization_code(self, code, client):
        found = self.server.app.code_for(self.server.run, code, client.get_client_id())
        return CodeModel(found) if found is not None else None

    def delete_authorization_code(self, authorization_code):
        pass  # redeemed with the tokens it gave, in one save (save_token)

    def authenticate_user(self, authorization_code):
        code = authorization_code.code
        return self.server.person(self.request.client, code.user_id, code.enterprise_id, code.session_id,
                                  code.auth_time, family_id=str(uuid.uuid4()))


class RefreshGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        family = self.server.app.family_of_refresh(self.server.run, refresh_token,
                                                   self.request.client.get_client_id())
        return FamilyModel(family) if family is not None else None

    def authenticate_user(self, refresh_token):
        family = refresh_token.family
        person = self.server.person(self.request.client, family.user_id, family.enterprise_id, family.session_id,
                                    family.auth_time, family_id=str(family.id))
        if person is None:
            self.server.app.end_family(self.server.run, str(family.id), "grant_lost")
            raise InvalidGrantError("The person is no longer allowed into this system.")
        return person

    def revoke_old_credential(self, refresh_token):
        pass  # rotated in save_token: the old one is no longer current


class EportOpenIDCode(OpenIDCode):
    def __init__(self, provider):
        super().__init__(require_nonce=False)
        self.provider = provider

    def exists_nonce(self, nonce, request):
        return False  # a nonce is the client's to check in the ID token; codes are single-use anyway

    def encode_id_token(self, token, request):
        person, client_id, now = request.user, request.client.get_client_id(), int(time.time())
        claims = {"iss": issuer(), "sub": person.user_id, "aud": client_id, "iat": now, "exp": now + ID_TOKEN_TTL,
                  "auth_time": int(person.auth_time), "sid": person.session_id,
                  "at_hash": create_half_hash(token["access_token"], "ES256").decode(), **person.claims}
        nonce = request.authorization_code.get_nonce() if request.authorization_code else None
        if nonce:
            claims["nonce"] = nonce
        return self.provider.peers.sign(claims)


class Provider(AuthorizationServer):
    """One per request: over the application (state) and the worker's peers (other services)."""

    def __init__(self, app, peers):
        super().__init__()
        self.app, self.peers = app, peers
        self.run = None  # the command's run (services/common/commands.py): `running` gives it
        self.register_token_generator("default", self._generate_token)
        self.register_grant(CodeGrant, [S256Only(), EportOpenIDCode(self)])
        self.register_grant(RefreshGrant)

    def running(self, run):
        """This provider, saving through `run`, the run of the flow's command."""
        self.run = run
        return self

    def query_client(self, client_id):
        client = self.app.client(client_id)
        return ClientModel(client) if client is not None else None

    def person(self, client, user_id, enterprise_id, session_id, auth_time, family_id=None):
        """The person as this client sees them, or None when not allowed in (no longer a member of the
        enterprise, or not granted the client's system)."""
        try:
            person = Person.of(self.peers, user_id, enterprise_id, session_id, auth_time, family_id)
        except ServiceError as error:  # erased: identity knows at once, sso once it hears UserErased
            if error.code != USER_NOT_FOUND:
                raise
            return None
        return person if person is not None and person.allowed_into(client.client) else None

    def authenticate_client(self, request, methods, endpoint="token"):
        """A request that presents credentials is judged by them alone: a wrong secret never falls back
        to `none` (one authentication method per request, RFC 6749 2.3)."""
        if request.headers.get("Authorization"):
            methods = [m for m in methods if m != "none"]
        return super().authenticate_client(request, methods, endpoint)

    def create_oauth2_request(self, request):
        if isinstance(request, PlainRequest):
            return request
        return PlainRequest(request, issuer() + str(request.get("path", "")))

    def handle_response(self, status, body, headers):
        return answer(status, body, headers)

    def send_signal(self, name, *args, **kwargs):
        pass

    def _generate_token(self, grant_type, client, user=None, scope=None, expires_in=None,
                        include_refresh_token=True):
        token = {"token_type": "Bearer", "access_token": token_of(user.family_id), "expires_in": access_ttl(),
                 "scope": scope or ""}
        if include_refresh_token:
            token["refresh_token"] = token_of(user.family_id)
        return token

    def save_token(self, token, request):
        if request.payload.grant_type == "authorization_code":
            saved = self.app.start_family(self.run, request.authorization_code.code, request.user.family_id,
                                          token["refresh_token"], token["access_token"])
        else:
            saved = self.app.rotate(self.run, request.refresh_token.family, token["refresh_token"],
                                    token["access_token"])
        if not saved:
            raise InvalidGrantError("This grant was used already.")

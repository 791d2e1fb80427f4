"""Single sign-on's application: clients, provider sessions, codes and token families.

The OAuth 2 / OpenID Connect protocol itself is Authlib's (provider.py); this is the state it reads
and changes, with the rules that make codes single-use and refresh tokens rotate with reuse detection.
"""
import secrets
import time
import uuid
from urllib.parse import urlsplit

from eventsourcing.persistence import IntegrityError

from contracts import validators
from contracts.errors import ValidationFailed
from contracts.sso import CLIENT_NAME_MAX
from contracts.validators import check_fields
from services.common.application import ServiceApplication, retry_on_conflict
from services.common.commands import command
from services.common.personal_data import events_naming
from services.common.settings import setting

from . import flows, rp_logout
from .domain import (AuthorizationCode, Client, ClientDirectory, ClientNotFound, ProviderSession, TokenFamily,
                     digest, same_digest, secret_shaped)
from .inputs import optional_uri, redirect_uri_list
from .logouts import Logouts
from .signons import LogoutNotice, SignOns

CODE_TTL = 60  # seconds: a code is exchanged at once by the client's back end


def access_ttl():
    """Access tokens live at most 10 minutes (issue 23), whatever the setting says."""
    return min(int(setting("SSO_ACCESS_TOKEN_TTL")), 600)


def refresh_ttl():
    return int(setting("SSO_REFRESH_TOKEN_TTL"))


def token_of(aggregate_id):
    """A bearer secret that names its aggregate: `<uuid>.<256 random bits>`."""
    return f"{aggregate_id}.{secrets.token_urlsafe(32)}"


def aggregate_id_of(token):
    if not secret_shaped(token):
        return None
    head, _, tail = token.partition(".")
    return head if tail else None


class SsoApplication(Logouts, ServiceApplication):
    service_name = "sso"

    def __init__(self, env=None, clock=time.time):
        super().__init__(env)
        self.clock = clock

    # -- clients (operators, `eport clients`) --------------------------------------------------------
    @command
    def add_client(self, run, name, system, redirect_uris, post_logout_redirect_uris=(), backchannel_logout_uri=None,
                   require_grant=True, known_systems=None, public=False):
        """A new client; `system` must be a code of `known_systems` (the catalogue, GET /api/v1/systems, which
        the service asks authz for) when given. A `public` client (it runs in the browser) gets no secret."""
        values = check_fields({"name": (validators.text(CLIENT_NAME_MAX), name),
                               "system": (validators.optional(validators.text(50)), system),
                               "redirect_uris": (redirect_uri_list, redirect_uris),
                               "post_logout_redirect_uris": (redirect_uri_list, list(post_logout_redirect_uris)),
                               "backchannel_logout_uri": (optional_uri, backchannel_logout_uri),
                               "require_grant": (validators.boolean, require_grant),
                               "public": (validators.boolean, public)})
        if not values["redirect_uris"]:
            raise ValidationFailed(details={"redirect_uris": ["Give at least one redirect URI."]})
        if values["require_grant"] and not values["system"]:
            raise ValidationFailed(details={"system": ["A client that requires a grant names its system."]})
        if values["system"] and known_systems is not None and values["system"] not in known_systems:
            raise ValidationFailed(f"No business system {values['system']!r} in the catalogue.", {"system": [
                f"Not a code of GET /api/v1/systems; known: {', '.join(known_systems)}."]})
        client_id, secret = str(uuid.uuid4()), None if values["public"] else secrets.token_urlsafe(32)
        client = Client(client_id=client_id, name=values["name"], system=values["system"],
                        redirect_uris=values["redirect_uris"],
                        post_logout_redirect_uris=values["post_logout_redirect_uris"],
                        backchannel_logout_uri=values["backchannel_logout_uri"], require_grant=values["require_grant"],
                        secret_digest=secret and digest(secret), public=values["public"])

        answer = {"client_id": client_id, **({"client_secret": secret} if secret else {}), **self._client_view(client)}

        def attempt():
            directory = self.find(ClientDirectory.ID, ClientDirectory) or ClientDirectory()
            directory.add(client_id)
            run.save(client, directory, answer=answer)
        retry_on_conflict(attempt)
        return answer

    @command
    def remove_client(self, run, client_id):
        client = self.client(client_id)
        if client is None:
            raise ClientNotFound(message="No such client.", details={"client_id": ["No client with this id."]})

        def attempt():
            fresh, directory = self.client(client_id), self.find(ClientDirectory.ID, ClientDirectory)
            fresh.remove()
            directory.drop(client_id)
            run.save(fresh, directory, answer=None)
        retry_on_conflict(attempt)

    def list_clients(self):
        return [{"client_id": str(c.id), **self._client_view(c)} for c in self._live_clients()]

    def _live_clients(self):
        directory = self.find(ClientDirectory.ID, ClientDirectory)
        clients = (self.client(c) for c in (directory.client_ids if directory else []))
        return [c for c in clients if c is not None]

    def client(self, client_id):
        """The live client of this id, or None."""
        client = self.find(client_id, Client)
        return None if client is None or client.removed else client

    def client_origins(self):
        """The origins of every live client's redirect URIs: the pages the token endpoint answers (CORS)."""
        return {f"{p.scheme}://{p.netloc}" for c in self._live_clients() for p in map(urlsplit, c.redirect_uris)}

    @staticmethod
    def _client_view(client):
        return {"name": client.name, "system": client.system, "require_grant": client.require_grant,
                "token_endpoint_auth_method": client.auth_method,
                "redirect_uris": list(client.redirect_uris),
                "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
                "backchannel_logout_uri": client.backchannel_logout_uri}

    # -- provider sessions ------------------------------------------------------------------------------
    @command
    def begin_session(self, run, identity):
        """A session at the provider for the holder of an identity session; the cookie's value. `identity` is
        what identity answers for the session's token ({user_id, session_id, auth_time, expires_at}): the
        session's auth_time is the identity session's login, never now, so that beginning a session from an
        old token satisfies neither `prompt=login` nor `max_age` (flows.py)."""
        now = self.clock()
        user_id, identity_session_id = identity["user_id"], identity["session_id"]
        auth_time, expires_at = float(identity["auth_time"]), float(identity["expires_at"])
        session_id = str(uuid.uuid4())
        cookie = token_of(session_id)

        def attempt():
            signons = self.signons_of(user_id)
            signons.add_session(session_id, identity_session_id, now, expires_at)
            run.save(ProviderSession(session_id=session_id, secret_digest=digest(cookie), user_id=user_id,
                                     identity_session_id=identity_session_id, auth_time=auth_time,
                                     expires_at=expires_at), signons, answer=cookie)
        retry_on_conflict(attempt)
        return cookie

    def signons_of(self, user_id):
        """The index of the person's live sessions and token families (new when they have none)."""
        return self.find(SignOns.create_id(user_id), SignOns) or SignOns(user_id=user_id)

    def personal_data(self, user_id):
        """sso's part of a person's export: the single sign-on sessions, codes and token families
        issued to them (digests of secrets left out), a scan of sso's store (no index by person)."""
        return {"sso": events_naming(self, user_id, (ProviderSession, AuthorizationCode, TokenFamily, SignOns,
                                                     LogoutNotice))}

    def session_of(self, cookie):
        """The live provider session of a cookie's value, or None."""
        session = self.find(aggregate_id_of(cookie), ProviderSession)
        return session if session is not None and session.opened_by(cookie, self.clock()) else None

    def live_session(self, session_id, user_id):
        """The live provider session of this id (an ID token's `sid`) if it is this person's, else None."""
        session = self.find(session_id, ProviderSession)
        alive = session is not None and session.alive(self.clock()) and session.user_id == user_id
        return session if alive else None

    # -- codes ------------------------------------------------------------------------------------------
    def save_code(self, run, code, **fields):
        run.save(AuthorizationCode(code_digest=digest(code), **fields, expires_at=self.clock() + CODE_TTL))

    def code_for(self, run, code, client_id):
        """The unexpired code of this client not yet redeemed, whose provider session is still live, or
        None (a code given just before a logout, reset, supersession or erasure gives no tokens after
        it); a code redeemed before is a second use, which ends the tokens the first gave."""
        found = self.find(AuthorizationCode.id_of(code), AuthorizationCode)
        if found is None or found.client_id != client_id or found.expires_at <= self.clock():
            return None
        if found.family_id is None and self.live_session(found.session_id, found.user_id) is None:
            return None
        if found.family_id is not None:
            self.end_family(run, found.family_id, "code_replayed")
            return None
        return found

    def start_family(self, run, code, family_id, refresh_token, access_token):
        """The tokens of a code, saved with the code's redemption and the person's index: False when
        another redemption won the race (it is then a second use: what it gave ends)."""
        now = self.clock()

        def attempt():
            fresh = self.find(code.id, AuthorizationCode)
            if fresh is None or fresh.family_id is not None:
                if fresh is not None:
                    self.end_family(run, fresh.family_id, "code_replayed")
                return False
            family = TokenFamily(family_id=family_id, client_id=code.client_id, user_id=code.user_id,
                                 enterprise_id=code.enterprise_id, session_id=code.session_id, scope=code.scope,
                                 auth_time=code.auth_time, refresh_digest=digest(refresh_token),
                                 access_digest=digest(access_token), access_expires_at=now + access_ttl(),
                                 refresh_expires_at=now + refresh_ttl())
            fresh.redeem(family_id)
            signons = self.signons_of(code.user_id)
            signons.add_family(family_id, code.client_id, code.enterprise_id, code.session_id, now,
                               now + refresh_ttl())
            run.save(fresh, family, signons)
            return True
        return retry_on_conflict(attempt)

    # -- token families ---------------------------------------------------------------------------------
    def family_of_refresh(self, run, refresh_token, client_id):
        """The live family whose current refresh token this is, or None; presenting a refresh token
        of a family that is not its current one (reused: stolen or replayed) ends the family."""
        family = self.find(aggregate_id_of(refresh_token), TokenFamily)
        if family is None or family.client_id != client_id or family.ended:
            return None
        if not same_digest(refresh_token, family.refresh_digest):
            self.end_family(run, str(family.id), "refresh_reused")
            return None
        return family if family.refresh_expires_at > self.clock() else None

    def rotate(self, run, family, refresh_token, access_token):
        """The family's new tokens; False when a concurrent refresh rotated it first (a reuse)."""
        family.rotate(refresh_digest=digest(refresh_token), access_digest=digest(access_token),
                      access_expires_at=self.clock() + access_ttl())
        try:
            run.save(family)
        except IntegrityError:
            self.end_family(run, str(family.id), "refresh_reused")
            return False
        return True

    def family_of_access(self, access_token):
        family = self.find(aggregate_id_of(access_token), TokenFamily)
        return family if family is not None and family.access_valid(access_token, self.clock()) else None

    @staticmethod
    def end_family(run, family_id, reason):
        def attempt():
            family = run.app.find(family_id, TokenFamily)
            if family is not None and not family.ended:
                family.end(reason)
                run.save(family)
        retry_on_conflict(attempt)

    # -- the OAuth flows (flows.py): their saves go before Authlib builds the answer ---------------------
    @command(answer_after=True)
    def authorize(self, run, provider, http):
        return flows.authorize(provider.running(run), http)

    @command(answer_after=True)
    def token(self, run, provider, http):
        return flows.token(provider.running(run), http)

    @command(answer_after=True)
    def userinfo(self, run, provider, http):
        return flows.userinfo(provider.running(run), http)

    @command(answer_after=True)
    def logout(self, run, provider, http):
        return rp_logout.logout(provider.running(run), http)

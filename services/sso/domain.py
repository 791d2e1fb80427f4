"""Single sign-on's state: clients, provider sessions, authorization codes, token families.

Secrets (client secrets, session cookies, codes, tokens) are stored as SHA-256 digests only: each
is 256 random bits, so a fast hash leaves nothing to guess, and a copy of the store logs nobody in.

- `Client`: a business system registered by an operator; redirect URIs are matched as exact strings.
- `ProviderSession`: the browser's session at the provider (its cookie), bound to an identity session.
- `AuthorizationCode`: used once; the version conflict of two concurrent redemptions makes one of
  them the second use, which ends what the first gave (RFC 6749 4.1.2).
- `TokenFamily`: the tokens one code gave and their refreshes. One refresh token is current; a
  refresh rotates it, and presenting any other (a reused, stolen one) ends the family.
"""
import hashlib
import hmac
import uuid

from eventsourcing.domain import Aggregate, event

from contracts import errors as e
from contracts.errors import DomainError
from services.common.sealing import OWNER, PersonalData

SSO_NAMESPACE = uuid.UUID("6f1d3c1e-6f55-4f0e-9a7e-2b1a2c9e5d10")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


SECRET_MAX = 200  # characters: a longer presented secret (cookie, code, token) is no one's, unread


def secret_shaped(value) -> bool:
    """Whether a presented secret can be one of ours at all: a string of at most SECRET_MAX characters."""
    return isinstance(value, str) and 0 < len(value) <= SECRET_MAX


def same_digest(secret, stored) -> bool:
    return secret_shaped(secret) and stored is not None and hmac.compare_digest(digest(secret), stored)


class Lapsing:
    """What a provider session and a token family share: a secret (kept as its digest) that works until
    the holder ends or it expires."""
    ended: bool

    def _live(self, expires_at, now):
        return not self.ended and now < expires_at

    def _honours(self, secret, stored_digest, expires_at, now):
        return self._live(expires_at, now) and same_digest(secret, stored_digest)


class ClientNotFound(DomainError):
    code = e.NOT_FOUND  # only the operators' tool asks by client id


class Client(PersonalData, Aggregate):
    not_personal_events = {"Registered": {"name", "secret_digest"}}  # a business system's
    @staticmethod
    def create_id(client_id: str):
        return uuid.UUID(client_id)

    @event("Registered")
    def __init__(self, client_id: str, name: str, system, redirect_uris: list, post_logout_redirect_uris: list,
                 backchannel_logout_uri, require_grant: bool, secret_digest, public: bool = False):
        """A public client (`public`: a relying party in the browser) has no secret (secret_digest None) and
        authenticates with `none`; a confidential one only with its secret (client_secret_basic)."""
        self.name = name
        self.system = system
        self.redirect_uris = list(redirect_uris)
        self.post_logout_redirect_uris = list(post_logout_redirect_uris)
        self.backchannel_logout_uri = backchannel_logout_uri
        self.require_grant = require_grant
        self.secret_digest = secret_digest
        self.public = public
        self.removed = False

    @property
    def auth_method(self):
        """Its token_endpoint_auth_method: `none` for a public client, else `client_secret_basic`."""
        return "none" if getattr(self, "public", False) else "client_secret_basic"

    @event("Removed")
    def remove(self):
        self.removed = True


class ClientDirectory(Aggregate):
    """Every client id, for `eport clients list`."""

    ID = uuid.uuid5(SSO_NAMESPACE, "clients")

    @staticmethod
    def create_id():
        return ClientDirectory.ID

    @event("Opened")
    def __init__(self):
        self.client_ids = []

    @event("Added")
    def add(self, client_id: str):
        self.client_ids.append(client_id)

    @event("Dropped")
    def drop(self, client_id: str):
        self.client_ids = [c for c in self.client_ids if c != client_id]


class ProviderSession(PersonalData, Lapsing, Aggregate):
    # its session_id is its own id (random, like every id here): the person's login at identity is sealed
    personal_events = {"Began": {"identity_session_id": OWNER}, "Closed": {"identity_session_id": OWNER}}
    not_personal_events = {"Began": {"session_id", "secret_digest"}, "Closed": {"ends_identity_session"}}

    @staticmethod
    def create_id(session_id: str):
        return uuid.UUID(session_id)

    @event("Began")
    def __init__(self, session_id: str, secret_digest: str, user_id: str, identity_session_id: str, auth_time: float,
                 expires_at: float):
        self.secret_digest = secret_digest
        self.user_id = user_id
        self.identity_session_id = identity_session_id
        self.auth_time = auth_time
        self.expires_at = expires_at
        self.ended = False

    def alive(self, now):
        return self._live(self.expires_at, now)

    def opened_by(self, cookie, now):
        """Whether the cookie's value is this live session's."""
        return self._honours(cookie, self.secret_digest, self.expires_at, now)

    @event("Ended")
    def _ended(self, reason: str):  # read from stores of before Closed; never written now
        self.ended = True

    def end(self, reason, ends_identity_session=False):
        """Ends the session; with `ends_identity_session` (a logout) the identity session it rests on ends
        too, which identity learns from this event."""
        self._closed(reason=reason, user_id=self.user_id, identity_session_id=self.identity_session_id,
                     ends_identity_session=ends_identity_session)

    @event("Closed")
    def _closed(self, reason: str, user_id: str, identity_session_id: str, ends_identity_session: bool):
        self.ended = True


class AuthorizationCode(PersonalData, Aggregate):
    personal_events = {"Issued": {"session_id": OWNER}}
    not_personal_events = {"Issued": {"code_digest"}}

    @staticmethod
    def create_id(code_digest: str):
        return uuid.uuid5(SSO_NAMESPACE, "code:" + code_digest)

    @staticmethod
    def id_of(code):
        return AuthorizationCode.create_id(digest(code)) if secret_shaped(code) else None

    @event("Issued")
    def __init__(self, code_digest: str, client_id: str, user_id: str, enterprise_id: str, session_id: str,
                 redirect_uri: str, scope: str, nonce, code_challenge: str, auth_time: float, expires_at: float):
        self.client_id = client_id
        self.user_id = user_id
        self.enterprise_id = enterprise_id
        self.session_id = session_id
        self.redirect_uri = redirect_uri
        self.scope = scope
        self.nonce = nonce
        self.code_challenge = code_challenge
        self.auth_time = auth_time
        self.expires_at = expires_at
        self.family_id = None  # set by the first redemption

    @event("Redeemed")
    def redeem(self, family_id: str):
        self.family_id = family_id


class TokenFamily(PersonalData, Lapsing, Aggregate):
    personal_events = {"Started": {"session_id": OWNER}}
    not_personal_events = {name: {"refresh_digest", "access_digest"} for name in ("Started", "Rotated")}

    @staticmethod
    def create_id(family_id: str):
        return uuid.UUID(family_id)

    @event("Started")
    def __init__(self, family_id: str, client_id: str, user_id: str, enterprise_id: str, session_id: str, scope: str,
                 auth_time: float, refresh_digest: str, access_digest: str, access_expires_at: float,
                 refresh_expires_at: float):
        self.client_id = client_id
        self.user_id = user_id
        self.enterprise_id = enterprise_id
        self.session_id = session_id
        self.scope = scope
        self.auth_time = auth_time
        self.refresh_digest = refresh_digest
        self.access_digest = access_digest
        self.access_expires_at = access_expires_at
        self.refresh_expires_at = refresh_expires_at
        self.ended = False
        self.end_reason = None

    @event("Rotated")
    def rotate(self, refresh_digest: str, access_digest: str, access_expires_at: float):
        self.refresh_digest = refresh_digest
        self.access_digest = access_digest
        self.access_expires_at = access_expires_at

    def end(self, reason):
        self._ended(reason=reason, client_id=self.client_id, user_id=self.user_id)

    @event("Ended")
    def _ended(self, reason: str, client_id: str, user_id: str):
        # who and which client in the event itself: the audit trail's event names them
        self.ended = True
        self.end_reason = reason

    def access_valid(self, access_token, now):
        return self._honours(access_token, self.access_digest, self.access_expires_at, now)

"""Sessions of the identity application: checking an access token, logout, and what a gateway
starting up must know (revocations and resets within a token's lifetime). A mixin of
IdentityApplication (what it needs of it: SessionsHost)."""
from typing import Protocol

from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from contracts import sso as sso_contract
from contracts.tokens import MAX_TOKEN_INPUT, Tokens
from services.common.commands import command
from services.common.timeline import recent_events, since_seconds_ago

from .claims import superseded_sessions
from .collaborators import Core
from .domain import RevokedSession, Unauthenticated, User, ends_sessions


LOGOUT_CONSUMER = "identity.sso"


class SessionsHost(Core, Protocol):
    """What Sessions needs of the application it is mixed into (tests/unit/test_identity_mixins.py)."""
    tokens: Tokens

    def consume(self, consumer, envelope, schema, effect): ...


class Sessions:
    def authenticate(self, token):
        """{user_id, session_id, auth_time, expires_at} of a valid, unexpired, unrevoked access token; else
        UNAUTHENTICATED. auth_time is when the session's login was made: a token is issued only by a login
        (password, SMS code, card), at its `iat`, and a session is never renewed, so `iat` is that time (a
        renewal, were one added, must keep it)."""
        refused = Unauthenticated("The access token is missing, expired or revoked.")
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_INPUT:
            raise refused
        claims = self.tokens.claims(token)
        if claims is None or claims["exp"] <= self.clock():
            raise refused
        if self.find(RevokedSession.create_id(claims["jti"]), RevokedSession) is not None:
            raise refused
        user = self._user(claims["sub"])
        if user is None or user.session_ended(claims["iat"]):
            raise refused
        return {"user_id": claims["sub"], "session_id": claims["jti"], "auth_time": claims["iat"],
                "expires_at": claims["exp"]}

    @command
    def revoke_session(self, run, token):
        """Logout: the token itself proves the right to end its session; refused from then on."""
        session = self.authenticate(token)
        try:
            run.save(RevokedSession(jti=session["session_id"], user_id=session["user_id"],
                                    revoked_at=self.clock()), answer=None)
        except IntegrityError:
            pass  # a concurrent logout of the same token got there first

    def learn_logout(self, envelope):
        """A logout at single sign-on's provider (ProviderSessionEnded that ends its identity session):
        the identity session under it is revoked as a logout of its own token would; False for a repeat,
        another event or a session revoked already."""
        ended = sso_contract.PROVIDER_SESSION_ENDED
        if envelope.get("source") != ended.source or envelope.get("event_type") != ended.name:
            return False

        def effect(p):
            jti = p["identity_session_id"]
            if not p["ends_identity_session"] or self.find(RevokedSession.create_id(jti), RevokedSession):
                return []
            return [RevokedSession(jti=jti, user_id=p["user_id"], revoked_at=self.clock())]

        return self.consume(LOGOUT_CONSUMER, envelope, sso_contract.ProviderSessionEndedPayload, effect)

    def _recent(self, event_cls, at_attribute):
        """Stored events of one type from within a token's lifetime, oldest first: read from where
        that time begins in the log (services/common/timeline.py), not from its start, so that a
        gateway's load costs the last half hour, not every logout ever stored."""
        cutoff = self.clock() - self.tokens.ttl
        for domain_event in recent_events(self, [get_topic(event_cls)], since_seconds_ago(self.tokens.ttl)):
            if getattr(domain_event, at_attribute) >= cutoff:
                yield domain_event

    def revoked_sessions(self):
        """The sessions revoked within a token's lifetime, [{session_id, revoked_at}], oldest first.

        For a gateway starting up: from then on it learns revocations from SessionRevoked events.
        """
        return [{"session_id": revoked.jti, "revoked_at": revoked.revoked_at}
                for revoked in self._recent(RevokedSession.Revoked, "revoked_at")]

    def sessions_ended_by_reset(self):
        """The users whose password reset within a token's lifetime ended every earlier session,
        [{user_id, ended_at}]; after that a gateway learns them from PasswordSet events."""
        resets = [{"user_id": str(reset.originator_id), "ended_at": reset.at}
                  for reset in self._recent(User.PasswordSet, "at") if ends_sessions(reset.reason)]
        # an erased account's sessions end as a superseded one's do: all of them, for good
        return (resets + superseded_sessions(self._recent(User.Superseded, "at"))
                + superseded_sessions(self._recent(User.Erased, "at")))

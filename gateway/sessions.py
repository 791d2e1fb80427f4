"""Bearer-token checks inside the gateway, without a round trip to identity per request.

A token is identity's signed JWT (contracts/tokens.py): the gateway verifies signature and expiry
itself. Revocation is state: every gateway instance keeps the jtis revoked (logouts) and the users
whose password reset ended their earlier sessions, within a token's lifetime, loaded from identity
on first use and kept current by identity's SessionRevoked and PasswordSet events on queues of the
instance's own (GatewayService.on_session_revoked / on_password_set), so a logout or a reset
through one gateway is refused by all. The instance that handles the logout records it at
once; the others within the event's delivery time (milliseconds).
"""
import functools
import threading
import time

from nameko.extensions import DependencyProvider

from contracts import errors as e
from contracts.errors import ServiceError
from contracts.tokens import ACCESS_TOKEN_TTL, MAX_TOKEN_INPUT, Tokens
from services.common.settings import secret

TOKEN_TTL = ACCESS_TOKEN_TTL  # identity's: a revoked jti or a reset is forgotten after that


class SessionCheck(DependencyProvider):
    def setup(self):
        self.tokens = Tokens(secret("EPORT_TOKEN_SECRET"), TOKEN_TTL)
        # A client sends the same token many times: verify its signature once (expiry and
        # revocation are still checked on every request).
        self._claims = functools.lru_cache(maxsize=8192)(self.tokens.claims)
        self.revoked = {}  # jti -> epoch seconds after which it cannot matter any more
        self.ended = {}  # user_id -> whole epoch seconds: that user's tokens issued before are void
        self.loaded = False
        self._load_lock = threading.Lock()

    def get_dependency(self, worker_ctx):
        return self

    def verify(self, token, load_revoked):
        """(user_id, jti) of a valid, unexpired, unrevoked token; `load_revoked()` fetches identity's
        `{"revoked": [...], "ended": [...]}` the first time (after this instance's queues consume)."""
        refused = ServiceError(e.UNAUTHENTICATED, "The access token is missing, expired or revoked.")
        claims = self._claims(token) if len(token) <= MAX_TOKEN_INPUT else None
        if claims is None or claims["exp"] <= time.time():
            raise refused
        if not self.loaded:
            self._load(load_revoked)
        if claims["jti"] in self.revoked or claims["iat"] < self.ended.get(claims["sub"], 0):
            raise refused
        return claims["sub"], claims["jti"]

    def _load(self, load_revoked):
        with self._load_lock:
            if not self.loaded:
                state = load_revoked()
                for item in state["revoked"]:
                    self.revoke(item["session_id"], item["revoked_at"])
                for item in state["ended"]:
                    self.end_sessions_of(item["user_id"], item["ended_at"])
                self.loaded = True

    def end_sessions_of(self, user_id, ended_at):
        self.ended[user_id] = max(self.ended.get(user_id, 0), int(ended_at))
        # A token issued before a reset older than a token's lifetime has expired by itself.
        _prune(self.ended, lambda ended: ended + TOKEN_TTL < time.time())

    def revoke(self, jti, revoked_at):
        """Refuse the token `jti` from now on (until it has expired by itself)."""
        self.revoked[jti] = revoked_at + TOKEN_TTL
        _prune(self.revoked, lambda until: until < time.time())


def _prune(entries, stale):
    """Now and then (every 256th entry), drop the entries that cannot refuse a live token any more."""
    if len(entries) % 256 == 0:
        for key in [k for k, value in entries.items() if stale(value)]:
            del entries[key]

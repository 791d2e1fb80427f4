"""Bearer-token checks inside the gateway, without a round trip to identity per request.

A token is identity's signed JWT (contracts/tokens.py): the gateway verifies signature and expiry
itself. Revocation is state: every gateway instance keeps the set of jtis revoked within a token's
lifetime, loaded from identity (`revoked_sessions`) on first use and kept current by identity's
SessionRevoked events on a queue of the instance's own (GatewayService.on_session_revoked), so a
logout through one gateway is refused by all. The instance that handles the logout records it at
once; the others within the event's delivery time (milliseconds).
"""
import functools
import threading
import time

from nameko.extensions import DependencyProvider

from contracts import errors as e
from contracts.errors import ServiceError
from contracts.tokens import Tokens
from services.common.settings import secret

TOKEN_TTL = 30 * 60  # the longest a token lives; a revoked jti is forgotten after that


class SessionCheck(DependencyProvider):
    def setup(self):
        self.tokens = Tokens(secret("EPORT_TOKEN_SECRET"), TOKEN_TTL)
        # A client sends the same token many times: verify its signature once (expiry and
        # revocation are still checked on every request).
        self._claims = functools.lru_cache(maxsize=8192)(self.tokens.claims)
        self.revoked = {}  # jti -> epoch seconds after which it cannot matter any more
        self.loaded = False
        self._load_lock = threading.Lock()

    def get_dependency(self, worker_ctx):
        return self

    def verify(self, token, load_revoked):
        """(user_id, jti) of a valid, unexpired, unrevoked token; `load_revoked()` fetches identity's
        list the first time (after the instance's SessionRevoked queue is consuming)."""
        refused = ServiceError(e.UNAUTHENTICATED, "The access token is missing, expired or revoked.")
        claims = self._claims(token) if len(token) <= 4096 else None
        if claims is None or claims["exp"] <= time.time():
            raise refused
        if not self.loaded:
            self._load(load_revoked)
        if claims["jti"] in self.revoked:
            raise refused
        return claims["sub"], claims["jti"]

    def _load(self, load_revoked):
        with self._load_lock:
            if not self.loaded:
                for item in load_revoked():
                    self.forget(item["session_id"], item["revoked_at"])
                self.loaded = True

    def forget(self, jti, revoked_at):
        now = time.time()
        self.revoked[jti] = revoked_at + TOKEN_TTL
        if len(self.revoked) % 256 == 0:  # now and then, drop what has expired anyway
            for old in [k for k, until in self.revoked.items() if until < now]:
                del self.revoked[old]

"""Bearer-token checks inside the gateway, without a round trip to identity per request.

A token is identity's ES256 JWT (contracts/tokens.py): the gateway verifies signature and expiry
itself, with identity's public keys (identity.token_keys, the JWK set it also serves at
/.well-known/jwks.json); it holds no key that could sign one. It re-reads the keys when a token
names a kid it does not know (at most every KEYS_MIN_INTERVAL seconds, so forged kids cost
nothing) and every KEYS_MAX_AGE seconds (so a retired key stops verifying).

Revocation is state: every gateway instance keeps the jtis revoked (logouts) and the users
whose password reset ended their earlier sessions, within a token's lifetime, loaded from identity
and kept current by identity's SessionRevoked and PasswordSet events on queues of the
instance's own (GatewayService.on_session_revoked / on_password_set), so a logout or a reset
through one gateway is refused by all. The instance that handles the logout records it at
once; the others within the event's delivery time (milliseconds). Those queues go with the
broker connection: after every (re)connect (RevocationFeed) the state is loaded again, so what
was revoked while the connection was down is refused too.
"""
import functools
import logging
import threading
import time

from nameko.extensions import DependencyProvider

from contracts import errors as e
from contracts.errors import ServiceError
from contracts.tokens import ACCESS_TOKEN_TTL, MAX_TOKEN_INPUT, TokenVerifier
from services.common.exchange_binding import BindsWithoutDeclaring
from services.common.consuming import QueueConsumer
from services.common.broadcasts import SignedBroadcast

log = logging.getLogger(__name__)

TOKEN_TTL = ACCESS_TOKEN_TTL  # identity's: a revoked jti or a reset is forgotten after that
KEYS_MAX_AGE = 300
KEYS_MIN_INTERVAL = 5


class SessionCheck(DependencyProvider):
    def setup(self):
        self.verifier = None
        self._claims = None
        self._keys_at = float("-inf")
        self._keys_lock = threading.Lock()
        self.revoked = {}  # jti -> epoch seconds after which it cannot matter any more
        self.ended = {}  # user_id -> epoch seconds: that user's tokens issued then or before are void
        self.loaded = False
        self._generation = 0  # counts invalidations: a load that raced one does not count
        self._load_lock = threading.Lock()

    def get_dependency(self, worker_ctx):
        return self

    def use_keys(self, jwks):
        verifier = TokenVerifier(jwks)
        if self.verifier is None or verifier.jwks != self.verifier.jwks:
            # A client sends the same token many times: verify its signature once per key set
            # (expiry and revocation are still checked on every request).
            self._claims = functools.lru_cache(maxsize=8192)(verifier.claims)
            self.verifier = verifier
        self._keys_at = time.monotonic()

    def keys(self, load_keys, token=None):
        """The current JWK set, re-read from identity when stale or when `token`'s kid is unknown."""
        verifier, keys_at = self.verifier, self._keys_at
        age = time.monotonic() - keys_at
        unknown = token is not None and verifier is not None and not verifier.knows(token)
        if verifier is None or age > KEYS_MAX_AGE or (unknown and age > KEYS_MIN_INTERVAL):
            with self._keys_lock:
                if self._keys_at == keys_at:  # no other worker re-read them meanwhile
                    try:
                        self.use_keys(load_keys())
                    except ServiceError:
                        if self.verifier is None:
                            raise
                        log.warning("identity's token keys not re-read; verifying with the known ones")
        return self.verifier.jwks

    def invalidate(self):
        """Revocations may have been missed (the broker connection was down): load them again."""
        self._generation += 1
        self.loaded = False

    def verify(self, token, load_revoked, load_keys=None):
        """(user_id, jti) of a valid, unexpired, unrevoked token; `load_revoked()` fetches identity's
        `{"revoked": [...], "ended": [...]}` (after this instance's queues consume), `load_keys()`
        its JWK set."""
        refused = ServiceError(e.UNAUTHENTICATED, "The access token is missing, expired or revoked.")
        if len(token) > MAX_TOKEN_INPUT:
            raise refused
        if load_keys is not None:
            self.keys(load_keys)  # stale ones re-read; the token is not parsed for that
        claims = self._claims(token) if self._claims is not None else None
        if claims is None and load_keys is not None:  # not verified: a kid of a key set we have not read?
            # (asked only then: parsing the header on every request was a fifth of a check's CPU)
            self.keys(load_keys, token)
            claims = self._claims(token) if self._claims is not None else None
        if claims is None or claims["exp"] <= time.time():
            raise refused
        if not self.loaded:
            self._load(load_revoked)
        if claims["jti"] in self.revoked or claims["iat"] <= self.ended.get(claims["sub"], 0):
            raise refused
        return claims["sub"], claims["jti"]

    def _load(self, load_revoked):
        with self._load_lock:
            if not self.loaded:
                generation = self._generation
                state = load_revoked()
                for item in state["revoked"]:
                    self.revoke(item["session_id"], item["revoked_at"])
                for item in state["ended"]:
                    self.end_sessions_of(item["user_id"], item["ended_at"])
                self.loaded = generation == self._generation

    def end_sessions_of(self, user_id, ended_at):
        self.ended[user_id] = max(self.ended.get(user_id, 0), ended_at)  # to the sub-second, as iat is
        # A token issued before a reset older than a token's lifetime has expired by itself.
        _prune(self.ended, lambda ended: ended + TOKEN_TTL < time.time())

    def revoke(self, jti, revoked_at):
        """Refuse the token `jti` from now on (until it has expired by itself)."""
        self.revoked[jti] = revoked_at + TOKEN_TTL
        _prune(self.revoked, lambda until: until < time.time())


class RevocationFeed(BindsWithoutDeclaring, QueueConsumer):
    """The connection of the gateway's revocation queues (broadcast: exclusive, deleted with the
    connection, so what is published while it is down never reaches this instance). On every
    (re)connect, once the new queues consume, the SessionCheck loads the revocations again; and
    so it does when `identity.events`, missing when the gateway started, has appeared and the
    queues are bound to it (services/common/exchange_binding.py: the gateway may not declare it)."""

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        super().on_consume_ready(connection, channel, consumers, **kwargs)
        self._reload_revocations()

    def on_late_binding(self):
        self._reload_revocations()  # what was published before the binding never reached this instance

    def _reload_revocations(self):
        for dependency in self.container.dependencies:
            if isinstance(dependency, SessionCheck):
                dependency.invalidate()


class RevocationHandler(SignedBroadcast):
    """What identity says about sessions, believed only when its source signed it
    (contracts/signatures.py): a forged SessionRevoked or PasswordSet would log people out."""
    queue_consumer = RevocationFeed()


revocation_handler = RevocationHandler.decorator


def _prune(entries, stale):
    """Now and then (every 256th entry), drop the entries that cannot refuse a live token any more."""
    if len(entries) % 256 == 0:
        for key in [k for k, value in entries.items() if stale(value)]:
            del entries[key]

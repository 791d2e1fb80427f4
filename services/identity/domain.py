"""The identity domain: users, the indexes that keep ID numbers and mobiles unique, the SMS code
box of each mobile, and sessions. No I/O: times are passed in (epoch seconds from the
application's clock), digests are computed by the application.
"""
import hmac
import math
import uuid

from eventsourcing.domain import Aggregate, event

from contracts.errors import (DomainError, Forbidden, InvalidCredentials, RetryLater,  # noqa: F401 (re-exported)
                             Unauthenticated)
from services.common.sealing import ORIGINATOR, OWNER, PersonalData

from .lockout import AccountLocked, Lockout, seconds_left  # noqa: F401 (AccountLocked re-exported)
from .rules import (ACCOUNT_BUSY, CODE_BURNT, CODE_EXPIRED, CODE_USED, CODE_VALID, CODE_WRONG,  # noqa: F401 (re-exported)
                    IdNumberTaken, Limits, MobileTaken, SmsAttemptsExceeded, SmsCodeInvalid, SmsCooldown,
                    SmsQuotaExceeded, UserNotFound, WeakPassword, ends_sessions)
from .sms_attempts import ANYONE, count_of, is_live, issued_in_last_day, with_count, with_issue
from .sms_clients import requests_of, with_request

# Fixed namespaces: the same digest always maps to the same aggregate id, across restarts.
ID_NUMBER_INDEX_NS = uuid.UUID("4b0d6a52-86c4-4e0e-9a55-3c2f7e1f0a11")
MOBILE_INDEX_NS = uuid.UUID("a3c1e9d0-5f27-4b8e-8f0b-0e6f4d2b7c22")
SMS_BOX_NS = uuid.UUID("d2e8f3a4-1b6c-4c9d-a07e-5b3f9e8c1d33")
SESSION_NS = uuid.UUID("7f4a2c1e-9d3b-4e8a-b6c5-2a1d0e9f8b44")


# -- aggregates -----------------------------------------------------------------------------------
class User(PersonalData, Lockout, Aggregate):
    """A registered person: its personal fields sealed with its own key (sealing.py), shown masked only."""

    personal_owner, not_personal_events = ORIGINATOR, {"Registered": {"id_type", "setup_token_digest"}}
    personal_events = {"Registered": {"name": OWNER, "id_number": OWNER, "mobile": OWNER},
                       "LoggedIn": {"session_id": OWNER}, "IdentityVerified": {"card_no": OWNER}}
    @event("Registered")
    def __init__(self, name, id_type, id_number, mobile, setup_token_digest, setup_token_expires_at,
                 registered_at):
        self.name = name
        self.id_type = id_type
        self.id_number = id_number
        self.mobile = mobile
        self.setup_token_digest = setup_token_digest
        self.setup_token_expires_at = setup_token_expires_at
        self.registered_at = registered_at
        self.password_hash = None
        self.failures = 0
        self.locked_until = None
        self.last_login_at = None
        self.sessions_ended_at = None

    # -- queries
    @property
    def has_password(self):
        return self.password_hash is not None

    @property
    def identity_verified(self):
        """实名认证: the holder proved the ID number with a card of the e-port CA (claims.py)."""
        return getattr(self, "verified_via", None) is not None  # absent from older snapshots

    @property
    def superseded(self):
        """A card holder's claim took the ID number: no session and no login any more (claims.py)."""
        return getattr(self, "superseded_by", None) is not None

    @property
    def erased(self):
        """The person asked for the erasure of their data (erasures.py): no session, no login, ever."""
        return getattr(self, "erasure_id", None) is not None

    def session_ended(self, issued_at):
        """A password reset ends every session begun at or before it. Compared to the sub-second:
        a token's `iat` is the exact time of its login (older tokens' whole seconds, rounded down,
        end with a reset in their second), and a login after the reset is issued later than it
        (`session_start`)."""
        if self.superseded or self.erased:  # a card holder's claim took its ID number (claims.py), or erased
            return True
        ended_at = self.ended_mark
        return ended_at is not None and issued_at <= ended_at

    @property
    def ended_mark(self):
        return getattr(self, "sessions_ended_at", None)  # absent from older snapshots

    def session_start(self, now):
        """The issue time of a session begun `now`: after the last reset even when the clock reads
        the same (or an instance's clock lags), so that the login the reset let through lives."""
        ended_at = self.ended_mark
        return now if ended_at is None or now > ended_at else math.nextafter(ended_at, math.inf)

    def credentials(self):
        """What a credential decision rests on: the password and the mark of the last reset. A
        decision taken on one value must be taken again before it acts on another (a reset in
        between wins)."""
        return self.password_hash, self.ended_mark

    # -- invariants
    def check_setup_token(self, token_digest, now):
        if self.has_password or self.setup_token_digest is None:
            raise InvalidCredentials("The password setup token has already been used.")
        if not hmac.compare_digest(self.setup_token_digest, token_digest):
            raise InvalidCredentials("The password setup token is wrong.")
        if now >= self.setup_token_expires_at:
            raise InvalidCredentials("The password setup token has expired; reset the password by SMS.")

    # -- commands
    @event("PasswordSet")
    def set_password(self, password_hash, reason, at):
        self.password_hash = password_hash
        self.setup_token_digest = None  # whatever the reason, the setup token is spent
        if ends_sessions(reason):  # whoever holds the phone may lift a lock, and end every session
            self.failures = 0
            self.locked_until = None
            self.sessions_ended_at = at

    @event("LoggedIn")
    def logged_in(self, method, session_id, at):
        self.failures = 0
        self.locked_until = None
        self.last_login_at = at

    @event("LoginFailed")
    def _login_failed(self, method, consecutive_failures, at):
        self._count(consecutive_failures, at)

    @event("Locked")
    def _locked(self, locked_until, failures, at):
        self.locked_until = locked_until

    @event("IdentityVerified")
    def verify_identity(self, via, card_no, at):
        self.verified_via = via

    @event("Superseded")
    def supersede(self, by_user_id, at):
        self.superseded_by = by_user_id
        self.sessions_ended_at = at

    @event("Erased")
    def erase(self, erasure_id, at):
        self.erasure_id = erasure_id
        self.sessions_ended_at = at


class IdNumberIndex(PersonalData, Aggregate):
    """Claims one ID number for one user: its id is derived from the ID number's keyed digest, so a
    second claim of the same number conflicts on version 1 when saved (its digest: sealed, personal)."""
    personal_events = {"Claimed": {"digest": OWNER}}

    @staticmethod
    def create_id(digest):
        return uuid.uuid5(ID_NUMBER_INDEX_NS, digest)

    @event("Claimed")
    def __init__(self, digest, user_id):
        self.digest = digest
        self.user_id = user_id

    @event("Moved")
    def move_to(self, user_id):
        """A card holder's claim (claims.py) takes the value from the account that held it."""
        self.user_id = user_id


class MobileIndex(PersonalData, Aggregate):
    """Claims one mobile for one user (as IdNumberIndex)."""
    personal_events = {"Claimed": {"digest": OWNER}}
    @staticmethod
    def create_id(digest):
        return uuid.uuid5(MOBILE_INDEX_NS, digest)

    @event("Claimed")
    def __init__(self, digest, user_id):
        self.digest = digest
        self.user_id = user_id

    @event("Moved")
    def move_to(self, user_id):
        self.user_id = user_id


class SmsBox(PersonalData, Aggregate):
    """The SMS codes of one mobile, per purpose, with the counters that bound abuse.
    Holds only the keyed digest of the mobile and of each code. Every accepted request is recorded, whether a code was
    sent or not (login/reset to an unregistered number sends nothing), so that cooldown and quota answer the same for
    registered and unregistered numbers. Wrong tries count against the code (5, then it is burnt) and against the
    presenting client (5, then that client alone is blocked a while): sms_attempts.py. v2 (snapshots): `tries`,
    `blocks` and `issued_hours` replace the per-purpose `failures` and `blocked_until`, which become those of ANYONE."""
    class_version = 2
    not_personal_events = {"Opened": {"mobile_digest"}, "CodeIssued": {"code_digest"}}

    # Request times kept for the quota; more than any quota we configure.
    KEEP_REQUESTS = 32

    @staticmethod
    def create_id(mobile_digest):
        return uuid.uuid5(SMS_BOX_NS, mobile_digest)

    @staticmethod
    def upcast_v1_v2(state):
        state["tries"] = {p: {ANYONE: n} for p, n in state.pop("failures", {}).items()}
        state["blocks"] = {p: {ANYONE: t} for p, t in state.pop("blocked_until", {}).items()}
        state["issued_hours"] = {}

    @event("Opened")
    def __init__(self, mobile_digest):
        self.mobile_digest = mobile_digest
        self.codes = {}  # purpose -> {"digest", "expires_at", "used", "seed", "tries", "burnt"} or None
        self.last_request = {}  # purpose -> time
        self.requests = []  # times of recent requests, every purpose
        self.tries = {}  # purpose -> {client: wrong tries since its last success or block}
        self.blocks = {}  # purpose -> {client: blocked until}
        self.issued_hours = {}  # hour -> codes issued in it, every client (the daily ceiling)

    # -- queries
    def is_blocked(self, purpose, now, client=None):
        until = count_of(self.blocks, purpose, client)
        return until is not None and now < until

    def failures_of(self, purpose, now, client=None):
        until = count_of(self.blocks, purpose, client)
        if until is not None and now >= until:
            return 0  # the block is over: a fresh count
        return count_of(self.tries, purpose, client, 0)

    def match(self, purpose, code_digest, now):
        """CODE_VALID, CODE_USED, CODE_EXPIRED, CODE_BURNT or CODE_WRONG for the presented code's digest."""
        code = self.codes.get(purpose)
        if code and code.get("burnt"):
            return CODE_BURNT  # right or wrong alike: nothing to learn, nothing to count
        if not code or not hmac.compare_digest(code["digest"], code_digest):
            return CODE_WRONG
        if code["used"]:
            return CODE_USED
        if now >= code["expires_at"]:
            return CODE_EXPIRED
        return CODE_VALID

    # -- invariants
    def check_not_blocked(self, purpose, now, client=None):
        if self.is_blocked(purpose, now, client):
            raise SmsAttemptsExceeded.after("Too many wrong codes: verification is blocked for a while.",
                                            seconds_left(count_of(self.blocks, purpose, client), now))

    def check_can_request(self, purpose, now, limits: Limits, client=None):
        """Cooldown and quota of the requesting `client` (sms_clients.py); None: of every caller
        that names none, together (as all were before clients were counted). Then the mobile's
        daily ceiling, every client together: only a flood from many addresses reaches it."""
        self.check_not_blocked(purpose, now, client)
        last_request, requests = self._requests_of(client)
        last = last_request.get(purpose)
        if last is not None and now < last + limits.sms_resend_after:
            raise SmsCooldown.after("A code was sent a moment ago; wait before asking again.",
                                    seconds_left(last + limits.sms_resend_after, now))
        recent = sorted(t for t in requests if t > now - limits.sms_quota_window)
        if len(recent) >= limits.sms_quota:
            oldest_counted = recent[len(recent) - limits.sms_quota]
            raise SmsQuotaExceeded.after("Too many codes for this mobile today.",
                                         seconds_left(oldest_counted + limits.sms_quota_window, now))
        issued, frees_in = issued_in_last_day(getattr(self, "issued_hours", {}), now)
        if issued >= limits.sms_codes_per_mobile_day:
            raise SmsQuotaExceeded.after("Too many codes for this mobile today.", seconds_left(now + frees_in, now))

    def _requests_of(self, client):
        if client is None:
            return self.last_request, self.requests
        return requests_of(getattr(self, "clients", {}), client)  # absent from older snapshots

    def issued_seed(self, purpose):
        """The seed of the purpose's code while it may still be used (unused, not burnt), else None;
        None too for a code issued before codes had seeds."""
        code = self.codes.get(purpose)
        return code.get("seed") if is_live(code) else None

    # -- commands
    class CodeIssued(Aggregate.Event):
        """v2 adds `seed`: the random part the code is derived from (digests.py), so that a retry of the request that
        died before the code reached notify can hand the same code again; a code issued before has none (and is
        never handed again). v3 adds `client`: who asked (the keyed digest of its address), None before and for
        callers that name none."""
        class_version = 3
        purpose: str
        code_digest: str | None
        at: float
        expires_at: float
        seed: str | None
        client: str | None

        @staticmethod
        def upcast_v1_v2(state):
            state["seed"] = None

        @staticmethod
        def upcast_v2_v3(state):
            state["client"] = None

    def issue(self, purpose, code_digest, at, expires_at, seed=None, client=None):
        """`code_digest` None: the request was accepted but nothing was sent. Either way the previous
        code of this purpose is void; the clients' counts of wrong tries stay."""
        self._issued(purpose=purpose, code_digest=code_digest, at=at, expires_at=expires_at, seed=seed,
                     client=client)

    @event(CodeIssued)
    def _issued(self, *, purpose, code_digest, at, expires_at, seed, client):
        self.codes[purpose] = None if code_digest is None else {
            "digest": code_digest, "expires_at": expires_at, "used": False, "seed": seed, "tries": 0}
        self.issued_hours = with_issue(getattr(self, "issued_hours", {}), at)
        if client is None:
            self.last_request[purpose] = at
            self.requests = (self.requests + [at])[-self.KEEP_REQUESTS:]
        else:
            self.clients = with_request(getattr(self, "clients", {}), client, purpose, at)

    class CodeUsed(Aggregate.Event):
        """v2 adds `client`: who used it, whose count of wrong tries starts afresh (None before)."""
        class_version = 2
        purpose: str
        at: float
        client: str | None

        @staticmethod
        def upcast_v1_v2(state):
            state["client"] = None

    def consume(self, purpose, at, client=None):
        self._used(purpose=purpose, at=at, client=client)

    @event(CodeUsed)
    def _used(self, purpose, at, client):
        self.codes[purpose] = dict(self.codes[purpose], used=True)
        self.tries = with_count(self.tries, purpose, client, None)

    def reject(self, purpose, now, limits: Limits, client=None):
        """Records a wrong try of `client`: the one that reaches the limit of the code's tries burns
        it, the one that reaches the limit of the client's blocks that client's verification."""
        code = self.codes.get(purpose)
        failures = self.failures_of(purpose, now, client) + 1
        self._rejected(purpose=purpose, failures=failures, at=now, client=client)
        if is_live(code) and code.get("tries", 0) + 1 >= limits.sms_max_failures:
            self._burnt(purpose=purpose, at=now)
        if failures >= limits.sms_max_failures:
            self._blocked(purpose=purpose, blocked_until=now + limits.sms_block, at=now, client=client)

    class CodeRejected(Aggregate.Event):
        """v2 adds `client`: whose wrong try it was (None before: every caller together)."""
        class_version = 2
        purpose: str
        failures: int
        at: float
        client: str | None

        @staticmethod
        def upcast_v1_v2(state):
            state["client"] = None

    @event(CodeRejected)
    def _rejected(self, purpose, failures, at, client):
        self.tries = with_count(self.tries, purpose, client, failures)
        code = self.codes.get(purpose)
        if is_live(code):
            self.codes[purpose] = dict(code, tries=code.get("tries", 0) + 1)

    @event("CodeBurnt")
    def _burnt(self, purpose, at):
        self.codes[purpose] = dict(self.codes[purpose], burnt=True)

    class VerificationBlocked(Aggregate.Event):
        """v2 adds `client`: the one client blocked (None before: every caller together, and the code
        was killed with it; since v2 a code is burnt by its own tries, CodeBurnt)."""
        class_version = 2
        purpose: str
        blocked_until: float
        at: float
        client: str | None

        @staticmethod
        def upcast_v1_v2(state):
            state["client"] = None

    @event(VerificationBlocked)
    def _blocked(self, purpose, blocked_until, at, client):
        self.blocks = with_count(self.blocks, purpose, client, blocked_until)
        self.tries = with_count(self.tries, purpose, client, 0)


class RevokedSession(PersonalData, Aggregate):
    """Marks one access token, by its jti, as revoked. Tokens are signed and expire on their own; only
    their revocation needs state, so a login stores one event (on the User), not two."""
    personal_events = {"Revoked": {"jti": OWNER}}
    @staticmethod
    def create_id(jti):
        return uuid.uuid5(SESSION_NS, jti)

    @event("Revoked")
    def __init__(self, jti, user_id, revoked_at):
        self.jti = jti
        self.user_id = user_id
        self.revoked_at = revoked_at

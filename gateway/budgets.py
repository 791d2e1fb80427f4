"""Budgets in front of every costly or guessable step (shared/API.md "General rules, added").

A route declares `budget=` (gateway/routing.py) with one of the budgets below. Before the route
runs, its request is counted per client (gateway/client_address.py), per subject (the account,
mobile, card or user it names) for that client, and globally; over any of them it is answered 429 `RATE_LIMITED`
with `details.retry_after` and a `Retry-After` header at once, before any RPC, so before any
hash, SMS or store write. The counting is the `limits` package's moving window: in this process's
memory by default (one gateway), in Redis with `RATE_LIMIT_URL=redis://…` (every gateway shares
the counts). When that store does not answer the request is refused, 503 `SERVICE_UNAVAILABLE`:
a budget nobody can count is not a reason to let a flood through.

A subject's budget is counted per (subject, client), so that requests by others never spend the
owner's (API.md, "General rules, added"). Only SMS sends have a ceiling per subject across
clients as well (BUDGET_SMS_PER_MOBILE_ALL_CLIENTS, high): it stops the bombing of one number from
many addresses, and refuses sending only, never the use of a code. Password guessing across
addresses is stopped by identity's lockout, SMS-code guessing by each code's 5 tries and the daily
ceiling of codes per mobile (docs/RELIABILITY.md).

Subjects are counted under an HMAC keyed with EPORT_INDEX_KEY, so Redis never holds a mobile or
an ID number; a refusal says the same whatever the account, existing or not.

Routes that wait for a password hash (`hashes=True`) also take one of GATEWAY_HASH_ROUTES slots
of this gateway while they run; when all are taken the request is 503 at once. So a login flood
holds at most that many of the gateway's workers, and checks, /me and the console keep the rest.
"""
import contextlib
import functools
import hashlib
import hmac
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import eventlet.semaphore
from limits import parse
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

from contracts import errors as e
from contracts.errors import ServiceError
from services.common.settings import secret, setting

from .client_address import client_of, client_of_environ
from .client_turns import refused

log = logging.getLogger(__name__)

STORE_TIMEOUT = 1.0  # seconds a Redis call may take before the request is refused (503)
HASH_BUSY_RETRY = 1  # seconds a client refused for want of a hash slot is told to wait


@dataclass(frozen=True)
class Budget:
    """What one kind of request spends. Its limits are the settings BUDGET_<NAME>_PER_CLIENT,
    BUDGET_<NAME>_PER_<SUBJECT> (per subject and client) and BUDGET_<NAME>_GLOBAL ("30/hour",
    "20/15 minutes": limits' notation); with `ceiling`, BUDGET_<NAME>_PER_<SUBJECT>_ALL_CLIENTS too."""
    name: str
    subject: str  # what the per-subject budget counts: ACCOUNT, MOBILE or CARD
    subject_of: Callable[[dict], str | None]  # from the route's keywords (body, path parameters, actor)
    hashes: bool = False
    counted_as: str = ""  # the subject budget's own counts, when routes share the settings but not the counts
    ceiling: bool = False  # a per-subject limit across clients as well

    def of(self, kwargs):
        return self

    def setting_names(self):
        stem = f"BUDGET_{self.name.upper()}"
        return f"{stem}_PER_CLIENT", f"{stem}_PER_{self.subject}", f"{stem}_GLOBAL"

    def ceiling_name(self):
        return f"BUDGET_{self.name.upper()}_PER_{self.subject}_ALL_CLIENTS" if self.ceiling else None


@dataclass(frozen=True)
class ByMethod:
    """The budget of a route whose body's `method` says what it does (POST /sessions); None: no budget.
    Its budgets share their name, so their per-client count too."""
    budgets: dict

    def of(self, kwargs):
        return self.budgets.get(kwargs["body"].get("method"))

    @property
    def name(self):
        return next(iter(self.budgets.values())).name

    def setting_names(self):
        return next(iter(self.budgets.values())).setting_names()

    def ceiling_name(self):
        return next(iter(self.budgets.values())).ceiling_name()


def _body(field):
    return lambda kwargs: kwargs["body"].get(field)


def _actor(kwargs):
    return kwargs["actor"].user_id


PASSWORD_LOGIN = Budget("login", "ACCOUNT", _body("account"), hashes=True)
SMS_LOGIN = Budget("login", "ACCOUNT", _body("mobile"), counted_as="sms_login")
LOGIN = ByMethod({"password": PASSWORD_LOGIN, "sms": SMS_LOGIN})  # card: its challenge is budgeted
SMS_SEND = Budget("sms", "MOBILE", _body("mobile"), ceiling=True)
REGISTRATION = Budget("registration", "MOBILE", _body("mobile"))  # registrations and identity claims
CARD_CHALLENGE = Budget("card_challenge", "CARD", _body("card_no"))
PASSWORD_CHANGE = Budget("password", "ACCOUNT", lambda kwargs: kwargs["user_id"], hashes=True)
PASSWORD_RESET = Budget("password", "ACCOUNT", _body("mobile"), hashes=True, counted_as="password_reset")
ADMIN_CLAIM = Budget("admin_claim", "ACCOUNT", _actor)
PERSONAL_DATA = Budget("personal_data", "ACCOUNT", _actor)  # an export reads every service's store
# single sign-on's /oauth2/*: each asks the sso service for store reads, writes or signatures; the
# subject is the relying party (client_id) a request names, counted per client address
SSO = Budget("sso", "RP", lambda kwargs: kwargs.get("client_id"))


# -- counting -------------------------------------------------------------------------------------
@functools.cache
def _limiter(url, prefix):
    options = {}
    if not url.startswith("memory"):
        options = {"key_prefix": prefix, "socket_timeout": STORE_TIMEOUT, "socket_connect_timeout": STORE_TIMEOUT}
    return MovingWindowRateLimiter(storage_from_string(url, **options))


def limiter():
    """The moving-window limiter on RATE_LIMIT_URL's store (one per URL and prefix, kept)."""
    return _limiter(setting("RATE_LIMIT_URL"), setting("RATE_LIMIT_PREFIX"))


@functools.cache
def _item(text):
    return parse(text)


def limit(name):
    """The rate of a budget setting, as limits reads it."""
    return _item(setting(name))


def pseudonym(kind, subject):
    """The name a subject is counted under: an HMAC, so the store holds no mobile or ID number."""
    key = secret("EPORT_INDEX_KEY").encode()
    return hmac.new(key, f"{kind}:{subject.strip().upper()}".encode(), hashlib.sha256).hexdigest()[:32]


def _counts(budget, client, subject):
    """(limit, counted ids) of each count a request spends, in order: a refused one spends no later one."""
    per_client, per_subject, overall = budget.setting_names()
    yield limit(per_client), ("client", budget.name, client)
    if subject:
        kind = budget.counted_as or budget.name
        name = pseudonym(kind, subject)
        yield limit(per_subject), ("subject", kind, name, client)  # the owner's never spent by others
        if budget.ceiling:
            yield limit(budget.ceiling_name()), ("subject", kind, name)
    yield limit(overall), ("global", budget.name)


def _over_budget(store, item, ids):
    reset_at = store.get_window_stats(item, *ids).reset_time
    retry_after = max(1, math.ceil(reset_at - time.time()))
    return ServiceError(code=e.RATE_LIMITED, message=f"Too many requests; try again in {retry_after} s.",
                        details={"retry_after": retry_after})


ROUTE_BUDGETS = {}  # (method, werkzeug rule) -> the route's budget: routing.route fills it


def early_refusal(method, rule, environ):
    """Before a worker is taken for the request: the refusal (RATE_LIMITED) of a client already over
    the per-client budget of the route, else None. A peek: nothing is counted, and a store that does
    not answer leaves the answer to the route's own charge. A flood from one client is so refused
    for about a third of what a full request costs the gateway (bench/abuse.py)."""
    budget = ROUTE_BUDGETS.get((method, rule))
    if not isinstance(budget, Budget):  # none, or one the body decides (a card login spends no login budget)
        return None
    client = client_of_environ(environ)
    item, ids = limit(budget.setting_names()[0]), ("client", budget.name, client)
    try:
        store = limiter()
        if store.test(item, *ids):
            return None
        refusal = _over_budget(store, item, ids)
    except (StorageError, RedisError, OSError):
        return None
    refused(client)
    return refusal


def charge(budget, client, subject):
    """Count one request of `client` on `subject` (None: none named): 429 RATE_LIMITED when it is over
    any of the budget's three limits (a refused request spends none of the limits after the one it
    is over), 503 when the counts' store does not answer."""
    try:
        store = limiter()
        for item, ids in _counts(budget, client, subject):
            if not store.hit(item, *ids):
                if ids[0] == "client":
                    refused(client)  # fewer turns for it a while (gateway/client_turns.py)
                raise _over_budget(store, item, ids)
    except (StorageError, RedisError, OSError) as exc:
        log.error("budget store unreachable (%s): refusing %s requests", type(exc).__name__, budget.name)
        raise ServiceError(code=e.SERVICE_UNAVAILABLE, message="The request budget cannot be counted; try again "
                           "shortly.", details={"retry_after": HASH_BUSY_RETRY}) from None


# -- workers waiting for hashes -------------------------------------------------------------------
@functools.cache
def _slots(size):
    return eventlet.semaphore.Semaphore(size)


@contextlib.contextmanager
def hash_slot():
    """One of GATEWAY_HASH_ROUTES slots while the request runs, or 503 at once when none is free."""
    slots = _slots(int(setting("GATEWAY_HASH_ROUTES")))
    if not slots.acquire(blocking=False):
        raise ServiceError(code=e.SERVICE_UNAVAILABLE, message="Too many logins at once; try again shortly.",
                           details={"retry_after": HASH_BUSY_RETRY})
    try:
        yield
    finally:
        slots.release()


@contextlib.contextmanager
def spending(budget, request, kwargs):
    """The hook of gateway/routing.py: around a route's work, its budget charged first."""
    budget = budget.of(kwargs) if budget is not None else None
    if budget is None:
        yield
        return
    charge(budget, client_of(request), budget.subject_of(kwargs))
    with hash_slot() if budget.hashes else contextlib.nullcontext():
        yield


# -- what identity learns of the client -----------------------------------------------------------
# Identity counts SMS requests per mobile for each asking client apart (issue 22, item 3:
# services/identity/sms_clients.py), so that others' requests never use up the owner's quota.
IDENTITY_SMS_REQUEST_TAKES_CLIENT = True


def sms_request_options(request):
    """The keywords the gateway adds to identity's SMS-code commands (request_sms_code, login_sms,
    reset_password, register, and claim_identity through card): the requesting client, when taken."""
    return {"client": client_of(request)} if IDENTITY_SMS_REQUEST_TAKES_CLIENT else {}

"""The lock of an account no one holds. Five wrong passwords for any account, existing or not,
lock its password logins (API.md, "General rules, added"): a known account counts on its User, an
unknown one here, so that 401 against 423 tells nobody which ID numbers and mobiles have accounts.
Both lock alike (Lockout). No I/O; an AccountLock is keyed like the indexes, by the keyed digest of
the normalised account."""
import math
import uuid

from eventsourcing.domain import Aggregate, event

from contracts import errors as e
from contracts.errors import RetryLater
from services.common.sealing import PersonalData

ACCOUNT_LOCK_NS = uuid.UUID("0c5e7a3d-2f41-4b6a-9d8e-6a1b3c5d7e55")


def seconds_left(until, now):
    return max(1, math.ceil(until - now))


class AccountLocked(RetryLater):
    code = e.ACCOUNT_LOCKED


class Lockout:
    """The password lockout of an account: `failures` in a row and `locked_until`. A mixin of User
    (domain.py) and of AccountLock, each with its own `_login_failed` and `_locked` events. Both pairs
    are live, neither is a copy to drop: a known account's are User's (integration.py publishes them as
    LoginFailed and UserLocked), an unknown one's AccountLock's (published never), and each is stored
    under its own class's topic (services.identity.domain:User.Locked, services.identity.lockout:
    AccountLock.Locked, ...), which stored events must keep resolving: tests/unit/test_lockout.py."""

    def is_locked(self, now):
        return self.locked_until is not None and now < self.locked_until

    def consecutive_failures(self, now):
        # An expired lock starts the count afresh.
        if self.locked_until is not None and now >= self.locked_until:
            return 0
        return self.failures

    def check_not_locked(self, now):
        if self.is_locked(now):
            raise AccountLocked.after("Too many failed logins: the account is locked for a while.",
                                      seconds_left(self.locked_until, now))

    def _count(self, consecutive_failures, at):
        self.failures = consecutive_failures
        if self.locked_until is not None and at >= self.locked_until:
            self.locked_until = None

    def login_failed(self, method, now, limits):
        """Records one failed login; the one that reaches the limit locks the account."""
        failures = self.consecutive_failures(now) + 1
        self._login_failed(method=method, consecutive_failures=failures, at=now)
        if failures >= limits.login_max_failures:
            self._locked(locked_until=now + limits.lock, failures=failures, at=now)


class AccountLock(PersonalData, Lockout, Aggregate):
    """The failed password logins of one account (mobile or ID number) that no user holds. Publishes
    nothing: there is no user to speak of (so its keyed digest names no one: docs/PERSONAL_DATA.md)."""
    not_personal_events = {"Opened": {"account_digest"}}

    @staticmethod
    def create_id(account_digest):
        return uuid.uuid5(ACCOUNT_LOCK_NS, account_digest)

    @event("Opened")
    def __init__(self, account_digest):
        self.account_digest = account_digest
        self.failures = 0
        self.locked_until = None

    @event("LoginFailed")
    def _login_failed(self, method, consecutive_failures, at):
        self._count(consecutive_failures, at)

    @event("Locked")
    def _locked(self, locked_until, failures, at):
        self.locked_until = locked_until

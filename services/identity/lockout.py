"""The lock of an account no one holds. Five wrong passwords for any account, existing or not,
lock its password logins (API.md, "General rules, added"): a known account counts on its User, an
unknown one here, so that 401 against 423 tells nobody which ID numbers and mobiles have accounts.
No I/O; keyed like the indexes, by the keyed digest of the normalised account."""
import uuid

from eventsourcing.domain import Aggregate, event

from .domain import Lockout

ACCOUNT_LOCK_NS = uuid.UUID("0c5e7a3d-2f41-4b6a-9d8e-6a1b3c5d7e55")


class AccountLock(Lockout, Aggregate):
    """The failed password logins of one account (mobile or ID number) that no user holds. Publishes
    nothing: there is no user to speak of."""

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

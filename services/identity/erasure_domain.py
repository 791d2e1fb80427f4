"""Erasure of a person's data (PIPL Art. 47), identity's side of the saga: the request, the services'
confirmations, and the operators' legal holds. No I/O: times come in.

One erasure per account: its id derives from the user id, so a request repeated while it is pending
(or a retry of the same one) answers the same erasure_id and starts nothing twice. A refused
request is recorded too (`RefusedErasure`, an id of its own each time): `eport erasures list` shows
every request. `ErasureRequests` lists them all, in the order they were made.
"""
import uuid

from eventsourcing.domain import Aggregate, event

from contracts import errors as e
from contracts.errors import DomainError
from services.common.aggregates import KeyedList

ERASURE_NS = uuid.UUID("c6f0e1d2-3a4b-4c5d-8e9f-0a1b2c3d4e55")
LEGAL_HOLD_NS = uuid.UUID("d7a1f2e3-4b5c-4d6e-9fa0-1b2c3d4e5f66")
PENDING, DONE, REFUSED = "pending", "done", "refused"
ALL_REQUESTS = "erasures"


class AdminHasMembers(DomainError):
    code = e.ADMIN_HAS_MEMBERS
    default_message = ("You administer an enterprise that has other members: hand the administrator role to one "
                       "of them first.")


class LegalHold(DomainError):
    code = e.LEGAL_HOLD
    default_message = "The account's data is held for a legal reason: it cannot be erased now."


class Erasure(Aggregate):
    """The erasure of one account: pending until every service in `services` has confirmed it."""

    @staticmethod
    def create_id(user_id):
        return uuid.uuid5(ERASURE_NS, str(user_id))

    @event("Requested")
    def __init__(self, user_id, services, requested_at):
        self.user_id = user_id
        self.services = sorted(services)
        self.requested_at = requested_at
        self.confirmed = {}  # service -> when it confirmed
        self.completed_at = None

    @property
    def status(self):
        return DONE if self.completed_at is not None else PENDING

    def waiting_for(self):
        return [s for s in self.services if s not in self.confirmed]

    def confirm(self, service, at):
        """Record one service's confirmation (once), and complete the erasure with the last one.
        False when it changes nothing: a repeat, or a service not asked."""
        if service not in self.services or service in self.confirmed:
            return False
        self._confirmed(service=service, at=at)
        if not self.waiting_for():
            self._completed(at=at, user_id=self.user_id, services=",".join(sorted(self.confirmed)))
        return True

    @event("Confirmed")
    def _confirmed(self, service, at):
        self.confirmed[service] = at

    @event("Completed")
    def _completed(self, at, user_id, services):
        self.completed_at = at


class RefusedErasure(Aggregate):
    """A request refused (LEGAL_HOLD, ADMIN_HAS_MEMBERS): kept so operators see it, nothing erased."""

    @event("Refused")
    def __init__(self, user_id, code, requested_at):
        self.user_id = user_id
        self.code = code
        self.requested_at = requested_at

    status = REFUSED
    services = ()
    confirmed = {}  # noqa: RUF012 - read only
    completed_at = None


class ErasureRequests(KeyedList):
    """Every erasure request's id (pending, done or refused), oldest first."""
    namespace = uuid.UUID("e8b2a3f4-5c6d-4e7f-a0b1-2c3d4e5f6a77")


class AccountHold(Aggregate):
    """An operator's legal hold on one account (`eport legal-hold add|remove`): while it is placed,
    an erasure is refused with LEGAL_HOLD."""

    @staticmethod
    def create_id(user_id):
        return uuid.uuid5(LEGAL_HOLD_NS, str(user_id))

    @event("Opened")
    def __init__(self, user_id):
        self.user_id = user_id
        self.held = False
        self.reason = None

    @event("Placed")
    def place(self, reason, by, at):
        self.held, self.reason = True, reason

    @event("Lifted")
    def lift(self, reason, by, at):
        self.held, self.reason = False, None

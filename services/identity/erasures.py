"""Erasure of a person's data (PIPL Art. 47), identity's part of the saga. A mixin of
IdentityApplication (what it needs of it: ErasuresHost).

`request_erasure` checks the caller's `personal_data` SMS code (spent by every answer after it, refused
or not), refuses while an operator's legal hold is placed or while the caller administers an
enterprise that has other members (enterprise answers that: peers.py), and then, in one transaction:
the Erasure is recorded with the services that must confirm it, the account is erased (its sessions
end, it never logs in again: domain.py `User.erased`) and its ID number and mobile are released (the
indexes keep their ids, claimed again by the next registration). The User's Erased event is published
as UserErased through the notification log; every service erases what it holds and confirms
(`confirm_erasure`, services/common/erasure.py); the last confirmation completes it (ErasureCompleted,
which the audit trail keeps: who asked, when, which services confirmed).
"""
from typing import Protocol

from contracts import validators
from contracts.times import iso_of_epoch
from contracts.validators import check_field
from services.common.application import as_uuid, retry_on_conflict
from services.common.commands import command
from services.common.deployment import BACKENDS

from .collaborators import Core, SmsCodeChecks
from .domain import ACCOUNT_BUSY, IdNumberIndex, MobileIndex, Unauthenticated, UserNotFound
from .erasure_domain import (ALL_REQUESTS, PENDING, AccountHold, AdminHasMembers, Erasure, ErasureRequests,
                             LegalHold, RefusedErasure)
from .inputs import sms_code_input

REASON_MAX = 500


class ErasuresHost(Core, Protocol):
    """What Erasures needs of the application it is mixed into (tests/unit/test_identity_mixins.py)."""
    sms_checks: SmsCodeChecks


def _iso(epoch):
    return None if epoch is None else iso_of_epoch(epoch)


def erasure_row(erasure):
    """One line of `eport erasures list`."""
    return {"erasure_id": str(erasure.id), "user_id": erasure.user_id, "status": erasure.status,
            "requested_at": _iso(erasure.requested_at), "completed_at": _iso(erasure.completed_at),
            "services_confirmed": sorted(erasure.confirmed), "services": list(erasure.services),
            "refusal": getattr(erasure, "code", None)}


class Erasures:
    @command
    def request_erasure(self, run, actor_user_id, sms_code, peers, services, client=None):
        """{erasure_id, status: pending} (202). `services`: the services that must confirm (the
        deployment's); `peers.admin_has_members(user_id)` asks enterprise."""
        code = check_field("sms_code", sms_code_input, sms_code)  # 400 before anything is read
        user = self._user(actor_user_id)
        if user is None or user.superseded:
            raise Unauthenticated("The access token is missing, expired or revoked.")
        user_id = str(user.id)
        existing = self.find(Erasure.create_id(user_id), Erasure)
        if existing is not None:  # asked again (a retry, a second tab): the same erasure, nothing new
            return {"erasure_id": str(existing.id), "status": existing.status}
        administers = peers.admin_has_members(user_id)  # asked once, before the save's retries

        def attempt():
            now = self.clock()
            # one code, one request, refused or not: the box is saved with the answer or the refusal
            box = self.sms_checks.spend_personal_data_code(run, user, code, now, client)
            hold = self.find(AccountHold.create_id(user_id), AccountHold)
            if hold is not None and hold.held:
                self._refused(run, user_id, LegalHold(), now, box)
            if administers:
                self._refused(run, user_id, AdminHasMembers(), now, box)
            return self._erase(run, user_id, sorted(services), now, box)

        return retry_on_conflict(attempt, message=ACCOUNT_BUSY)

    def _erase(self, run, user_id, services, now, box):
        user = self._user(user_id)
        if user.erased:  # a concurrent request won
            return {"erasure_id": str(Erasure.create_id(user_id)), "status": PENDING}
        erasure = Erasure(user_id=user_id, services=services, requested_at=now)
        user.erase(erasure_id=str(erasure.id), at=now)
        listed = self._requests()
        listed.add_once(str(erasure.id))
        answer = {"erasure_id": str(erasure.id), "status": PENDING}
        run.save(user, erasure, box, listed, *self._released(user), answer=answer)
        return answer

    def _released(self, user):
        """The ID number's and the mobile's indexes, let go by the erased account: free to register."""
        released = []
        for index_cls, digest in ((IdNumberIndex, self.digests.id_number(user.id_number)),
                                  (MobileIndex, self.digests.mobile(user.mobile))):
            index = self.find(index_cls.create_id(digest), index_cls)
            if index is not None and index.user_id == str(user.id):
                index.move_to(None)
                released.append(index)
        return released

    def _refused(self, run, user_id, error, now, box):
        refused = RefusedErasure(user_id=user_id, code=error.code, requested_at=now)
        listed = self._requests()
        listed.add_once(str(refused.id))
        run.refuse(error, box, refused, listed)

    def _requests(self):
        return (self.find(ErasureRequests.create_id(ALL_REQUESTS), ErasureRequests)
                or ErasureRequests(key=ALL_REQUESTS))

    @command
    def confirm_erasure(self, run, erasure_id, service):
        """A service erased what it holds of the person: recorded once; the last one completes the
        erasure. False when it changes nothing (a repeat, an unknown erasure or service)."""
        if service not in BACKENDS:
            return False

        def attempt():
            erasure = self.find(erasure_id, Erasure)
            if erasure is None or not erasure.confirm(service, self.clock()):
                return False
            run.save(erasure, answer=True)
            return True

        return retry_on_conflict(attempt)

    def mobile_of(self, user_id):
        """The account's mobile while it can be read (its key not destroyed yet), else None."""
        user = self._user(user_id)
        try:
            return validators.mobile(user.mobile) if user is not None else None
        except (ValueError, TypeError):
            return None

    def erasure_of(self, erasure_id):
        erasure = self.find(erasure_id, Erasure) or self.find(erasure_id, RefusedErasure)
        return None if erasure is None else erasure_row(erasure)

    def erasures(self):
        """Every erasure request, oldest first (`eport erasures list`)."""
        listed = self.find(ErasureRequests.create_id(ALL_REQUESTS), ErasureRequests)
        return [self.erasure_of(erasure_id) for erasure_id in (listed.items if listed else [])]

    @command
    def set_legal_hold(self, run, user_id, held, reason, by):
        """An operator places (held) or lifts a legal hold on an account: {user_id, held, reason}."""
        if as_uuid(user_id) is None or self._user(user_id) is None:
            raise UserNotFound("No such user.", {"user_id": ["No account with this id."]})
        reason = check_field("reason", validators.text(REASON_MAX), reason)
        check_field("held", validators.boolean, held)
        user_id = str(as_uuid(user_id))

        def attempt():
            hold = self.find(AccountHold.create_id(user_id), AccountHold) or AccountHold(user_id=user_id)
            if held:
                hold.place(reason=reason, by=by, at=self.clock())
            else:
                hold.lift(reason=reason, by=by, at=self.clock())
            answer = {"user_id": user_id, "held": hold.held, "reason": hold.reason}
            run.save(hold, answer=answer)
            return answer

        return retry_on_conflict(attempt)

"""The small objects IdentityApplication holds and its mixins share, instead of calling each other's
privates: `sms_checks` (SmsCodeChecks: presenting and refusing SMS codes, the mobile's box, the
caller's client key) and `lockout` (PasswordLockout: counting a wrong password). Each reads the
application's clock, limits and digests when called (tests replace them on a live application) and
records through the command's `run` it is given (`run.refuse`), so a refused command's record goes
with the same save."""
import hmac
from collections.abc import Callable
from typing import Protocol

from contracts import validators
from contracts.errors import Forbidden, Unauthenticated
from contracts.identity import PERSONAL_DATA
from contracts.validators import check_field

from services.common.digests import Digests
from .domain import (CODE_EXPIRED, CODE_USED, CODE_VALID, CODE_WRONG, AccountLocked, InvalidCredentials, Limits,
                     SmsAttemptsExceeded, SmsBox, SmsCodeInvalid)

CLIENT_MAX = 128  # characters of the caller's address the gateway names (IPv6 with a zone fits)

_REFUSALS = {CODE_USED: "This code has already been used; ask for a new one.",
             CODE_EXPIRED: "This code has expired; ask for a new one."}


class Core(Protocol):
    """What the collaborators, and every mixin, need of the application (its Protocols extend this):
    its clock, limits and digests, its store, and its reader of users."""
    clock: Callable[[], float]
    limits: Limits
    digests: Digests

    def find(self, aggregate_id, cls): ...

    def _user(self, user_id): ...


class SmsCodeChecks:
    def __init__(self, app: Core):
        self.app = app

    def client_key(self, client):
        """The keyed digest of the caller's address the gateway names (None: the caller named none)."""
        if client is None:
            return None
        return self.app.digests.client(check_field("client", validators.string(CLIENT_MAX), client))

    def box(self, mobile_digest):
        """The mobile's SmsBox, or None when no code was ever asked for it."""
        return self.app.find(SmsBox.create_id(mobile_digest), SmsBox)

    def present(self, box, purpose, code, now, client=None):
        """The outcome of presenting `code` by `client` (a key, client_key); a wrong one is recorded
        on `box` (not saved here): against the code's tries and the client's. Only that client's own
        block refuses it (SMS_CODE_ATTEMPTS_EXCEEDED): others' wrong tries never keep it out."""
        if box is None:
            return None
        box.check_not_blocked(purpose, now, client)
        outcome = box.match(purpose, self.app.digests.sms_code(box.mobile_digest, purpose, code), now)
        if outcome == CODE_WRONG:
            box.reject(purpose, now, self.app.limits, client)
        return outcome

    def refuse(self, run, box, purpose, outcome, now, error, *counted, client=None):
        """Raise the refusal of a code that is not CODE_VALID (an `error`, or the block the wrong
        try reached); a wrong one was counted on `box` (and on `counted`): saved with the refusal.
        A burnt code's tries are answered as wrong ones and change nothing."""
        try:
            if box is not None:
                box.check_not_blocked(purpose, now, client)  # the wrong try that reached the limit says so
            refusal = error(_REFUSALS.get(outcome, "The SMS code is wrong."))
        except SmsAttemptsExceeded as blocked:
            refusal = blocked
        if outcome == CODE_WRONG:
            run.refuse(refusal, box, *counted)
        raise refusal

    def spend_register_code(self, run, mobile_digest, code, now, client=None):
        """The mobile's SMS box with its register code spent (unsaved), else the refusal. Every answer
        after the code was checked spends it (registration, a claim): else one code probes ID numbers."""
        return self.spend(run, mobile_digest, "register", code, now, client)

    def spend(self, run, mobile_digest, purpose, code, now, client=None):
        """The mobile's SMS box with its `purpose` code spent (unsaved; the caller saves it with its
        answer, or with its refusal: `run.refuse(error, box)`), else the refusal (a wrong try counted)."""
        box = self.box(mobile_digest)
        outcome = self.present(box, purpose, code, now, client)
        if outcome != CODE_VALID:
            self.refuse(run, box, purpose, outcome, now, SmsCodeInvalid, client=client)
        box.consume(purpose=purpose, at=now, client=client)
        return box

    def spend_personal_data_code(self, run, user, code, now, client=None):
        """`user`'s box with its personal_data code spent (unsaved), else the refusal. One code serves
        one export or one erasure request, refused or not: save the box with the request's answer or
        its refusal (`run.refuse(LegalHold(...), box)`), so a right code is spent on any use."""
        return self.spend(run, self.app.digests.mobile(user.mobile), PERSONAL_DATA, code, now, client)

    def own_account(self, actor_user_id, mobile=None):
        """The caller's own User (401 when the token names no live account); with `mobile`, 403
        FORBIDDEN unless it is the account's own: a personal_data code goes to no other number."""
        user = self.app._user(actor_user_id) if isinstance(actor_user_id, str) else None
        if user is None or user.superseded:
            raise Unauthenticated("Log in to ask for a code about your personal data.")
        if mobile is not None and not hmac.compare_digest(user.mobile, mobile):
            raise Forbidden("A personal_data code goes only to the account's own mobile.",
                            {"mobile": ["Not the mobile of this account."]})
        return user


class PasswordLockout:
    def __init__(self, app: Core):
        self.app = app

    def wrong_password(self, run, account, message):
        """Counts a wrong password (a login's, or a change's current_password) on `account` (a User,
        or the AccountLock of an account no one holds) toward the lockout, then raises
        INVALID_CREDENTIALS, or ACCOUNT_LOCKED when it is locked or this locks it."""
        now = self.app.clock()
        account.check_not_locked(now)  # others may have locked it while we verified
        account.login_failed("password", now, self.app.limits)
        try:
            account.check_not_locked(now)  # this one may have locked it
            refusal = InvalidCredentials(message)
        except AccountLocked as locked:
            refusal = locked
        run.refuse(refusal, account)

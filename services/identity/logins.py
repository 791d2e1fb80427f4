"""Logins of the identity application: password, SMS code and card, each starting a session with
a new access token. A mixin of IdentityApplication (what it needs of it: LoginsHost)."""
from typing import Protocol

from contracts import validators
from contracts.tokens import Tokens
from contracts.validators import check_field
from services.common.application import retry_on_conflict
from services.common.commands import command

from .collaborators import Core, PasswordLockout, SmsCodeChecks
from .domain import (ACCOUNT_BUSY, CODE_VALID, IdNumberIndex, InvalidCredentials, MobileIndex,
                     UserNotFound)
from .lockout import AccountLock
from .inputs import account_kind, password_input, sms_code_input
from .passwords import Passwords


class LoginsHost(Core, Protocol):
    """What Logins needs of the application it is mixed into (tests/unit/test_identity_mixins.py)."""
    passwords: Passwords
    tokens: Tokens
    sms_checks: SmsCodeChecks
    lockout: PasswordLockout

    def _user_by(self, index_cls, digest): ...

    def _user_by_mobile(self, mobile): ...


class Logins:
    @command
    def login_password(self, run, account, password):
        """A session for the right password. The session rests on the password it was checked
        against: a reset or a change saved meanwhile makes it check again on the new state."""
        kind, account = check_field("account", account_kind, account)
        password = check_field("password", password_input, password)
        if kind == "mobile":
            digest = self.digests.mobile(account)
            user = self._user_by(MobileIndex, digest)
        else:
            digest = self.digests.id_number(account)
            user = self._user_by(IdNumberIndex, digest)
        if user is None:
            return self._no_such_account(run, digest, password)
        user.check_not_locked(self.clock())
        decided = [user.credentials(), self._verify(user, password)]
        user_id = str(user.id)
        # Re-read only after a conflict: a lock set while we verified still shows up in check_not_locked.
        first = [user]

        def attempt():
            fresh = first.pop() if first else self._user(user_id)
            now = self.clock()
            fresh.check_not_locked(now)  # others may have locked it while we verified
            if fresh.credentials() != decided[0]:  # a reset (or change) since the check: it wins
                decided[:] = [fresh.credentials(), self._verify(fresh, password)]
            if decided[1]:
                answer = self._start_session(fresh, "password", now)
                run.save(fresh, answer=answer)
                return answer
            self.lockout.wrong_password(run, fresh, "The account or the password is wrong.")

        return retry_on_conflict(attempt, message=ACCOUNT_BUSY)

    def _no_such_account(self, run, digest, password):
        """An account no one holds answers as a held one does to a wrong password, step for step:
        one verify, the failure written (on its AccountLock), 423 ACCOUNT_LOCKED from the fifth."""
        lock_id = AccountLock.create_id(digest)

        def lock():
            return self.find(lock_id, AccountLock) or AccountLock(account_digest=digest)

        first = [lock()]
        first[0].check_not_locked(self.clock())
        self.passwords.spend_dummy_verify(password)
        retry_on_conflict(lambda: self.lockout.wrong_password(run, first.pop() if first else lock(),
                                                              "The account or the password is wrong."),
                          message=ACCOUNT_BUSY)

    def _verify(self, user, password):
        """Whether `password` is the user's; as long to answer when the user has none yet."""
        if not user.has_password:
            self.passwords.spend_dummy_verify(password)
            return False
        return self.passwords.verify(user.password_hash, password)

    @command
    def login_sms(self, run, mobile, sms_code, client=None):
        """`client`: the caller's address, from the gateway: its wrong codes block it alone."""
        mobile = check_field("mobile", validators.mobile, mobile)
        code = check_field("sms_code", sms_code_input, sms_code)
        mobile_digest, client = self.digests.mobile(mobile), self.sms_checks.client_key(client)

        def attempt():
            now = self.clock()
            box = self.sms_checks.box(mobile_digest)
            outcome = self.sms_checks.present(box, "login", code, now, client)
            user = self._user_by_mobile(mobile)
            if outcome != CODE_VALID or user is None:
                # A wrong code counts on the box alone (its own block), never toward the password
                # lock: others' guesses must not lock the owner out, whom the right code proves.
                self.sms_checks.refuse(run, box, "login", outcome, now, InvalidCredentials, client=client)
            box.consume(purpose="login", at=now, client=client)
            answer = self._start_session(user, "sms", now)
            run.save(box, user, answer=answer)
            return answer

        return retry_on_conflict(attempt, message=ACCOUNT_BUSY)

    @command
    def start_card_session(self, run, user_id, card_no):
        """Card login, once the card service has verified the card and its holder."""
        check_field("card_no", validators.string(64), card_no)

        def attempt():
            user = self._user(user_id)
            if user is None:
                raise UserNotFound("No such user.")
            now = self.clock()  # a password lock does not stop the card: it proves its holder
            answer = self._start_session(user, "card", now)
            run.save(user, answer=answer)
            return answer

        return retry_on_conflict(attempt, message=ACCOUNT_BUSY)

    def _start_session(self, user, method, now):
        """Records the login on `user` (the caller saves it) and answers the new access token."""
        if user.superseded or user.erased:  # its ID number taken by a card holder's claim (claims.py), or erased
            raise InvalidCredentials("The account or the password is wrong.")
        user_id = str(user.id)
        token, jti, _ = self.tokens.issue(user_id, user.session_start(now))
        user.logged_in(method=method, session_id=jti, at=now)
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.tokens.ttl, "user_id": user_id}

"""Setting a password: the first with registration's setup token, a change with the current
password (which may end the other sessions), a reset with an SMS code (which ends them all).
A mixin of IdentityApplication (what it needs of it: PasswordSettingHost)."""
import uuid
from typing import Protocol

from contracts import validators
from contracts.errors import ValidationFailed
from contracts.identity import SETUP_TOKEN_MAX
from contracts.tokens import Tokens
from contracts.validators import check_field
from services.common.application import retry_on_conflict
from services.common.commands import command

from .collaborators import Core, PasswordLockout, SmsCodeChecks
from .domain import (ACCOUNT_BUSY, CODE_VALID, Forbidden, InvalidCredentials, RevokedSession,
                     SmsCodeInvalid, Unauthenticated, User, UserNotFound, WeakPassword)
from .inputs import password_input, sms_code_input
from .passwords import Passwords, weaknesses


def _check_form(password_setup_token, current_password, end_other_sessions):
    """Whether the command ends the other sessions: a change does unless told not to (whoever
    changes a password may be shutting someone out); a first password has none to end."""
    if password_setup_token is None and current_password is None:
        raise ValidationFailed(details={"password_setup_token": [
            "Give the password_setup_token of registration, or current_password with a Bearer token."]})
    if end_other_sessions is None:
        return current_password is not None
    check_field("end_other_sessions", validators.boolean, end_other_sessions)
    if end_other_sessions and current_password is None:
        raise ValidationFailed(details={"end_other_sessions": ["Only with current_password: a first password "
                                                       "has no other sessions to end."]})
    return end_other_sessions


class PasswordSettingHost(Core, Protocol):
    """What PasswordSetting needs of the application it is mixed into (tests/unit/test_identity_mixins.py)."""
    repository: object  # its event store: a user's LoggedIn events, newest first
    passwords: Passwords
    tokens: Tokens
    lockout: PasswordLockout
    sms_checks: SmsCodeChecks

    def _user_by_mobile(self, mobile): ...


class PasswordSetting:
    @command
    def set_password(self, run, user_id, password, password_setup_token=None, current_password=None,
                     actor_user_id=None, end_other_sessions=None, session_id=None):
        """First password with the setup token of registration; later ones as the logged-in user
        with the current password. A change ends every other session of the user (all but
        `session_id`, the caller's own) in the same transaction, unless `end_other_sessions` is false.
        The change acts on the password it checked: a reset or another change saved meanwhile
        makes it check again (`_check_again`)."""
        password = check_field("password", password_input, password)
        end_others = _check_form(password_setup_token, current_password, end_other_sessions)
        if password_setup_token is not None:
            token = check_field("password_setup_token", validators.string(SETUP_TOKEN_MAX), password_setup_token)
            token_digest, reason = self.digests.setup_token(token), "setup"
            user = self._user_with_setup_token(user_id, token_digest)
        else:
            token_digest, reason = None, "change"
            user = self._user_knowing_password(run, user_id, current_password, actor_user_id)
        checked = [user.credentials()]
        reasons = weaknesses(password, mobile=user.mobile, id_number=user.id_number)
        if reasons:
            raise WeakPassword.of(reasons)
        password_hash = self.passwords.hash(password)

        def attempt():
            fresh = self._user(user_id)
            if reason == "setup":  # single use, also against a concurrent setup
                fresh.check_setup_token(token_digest, self.clock())
            elif fresh.credentials() != checked[0]:
                checked[0] = self._check_again(run, fresh, checked[0], current_password)
            now = self.clock()
            fresh.set_password(password_hash=password_hash, reason=reason, at=now)
            ended = self._end_sessions(user_id, keep=session_id, now=now) if end_others else []
            run.save(fresh, *ended, answer=None)  # the RPC answers nothing (204)

        retry_on_conflict(attempt, message=ACCOUNT_BUSY)

    def _check_again(self, run, fresh, checked, current_password):
        """A change whose account changed since its check: a reset ended the caller's session (the
        reset wins); another change is checked against the password it set. Answers what it checked."""
        if fresh.ended_mark != checked[1]:
            raise InvalidCredentials(message="The password was reset meanwhile; log in again.")
        fresh.check_not_locked(self.clock())
        if not self.passwords.verify(fresh.password_hash, current_password):
            self.lockout.wrong_password(run, fresh, "The current password is wrong.")
        return fresh.credentials()

    def _user_with_setup_token(self, user_id, token_digest):
        user = self._user(user_id)
        if user is None:
            raise InvalidCredentials("The password setup token is wrong.")
        user.check_setup_token(token_digest, self.clock())
        return user

    def _user_knowing_password(self, run, user_id, current_password, actor_user_id):
        """The user changing their own password, once `current_password` is theirs (a wrong one
        counts toward the lockout, as a login's does)."""
        current_password = check_field("current_password", password_input, current_password)
        if actor_user_id is None:
            raise Unauthenticated("Changing a password needs a Bearer token.")
        if actor_user_id != user_id:
            raise Forbidden("You can change your own password only.")
        user = self._user(user_id)
        if user is None:
            raise UserNotFound("No such user.")
        user.check_not_locked(self.clock())  # else a lock on logins leaves this way of guessing open
        if not user.has_password or not self.passwords.verify(user.password_hash, current_password):
            wrong = "The current password is wrong."
            retry_on_conflict(lambda: self.lockout.wrong_password(run, self._user(user_id), wrong),
                              message=ACCOUNT_BUSY)
        return user

    def _end_sessions(self, user_id, *, keep, now):
        """A RevokedSession for each session of the user still within a token's lifetime, but for
        `keep` and those revoked already; the caller saves them."""
        ended = []
        for jti in self._sessions_begun_since(user_id, now - self.tokens.ttl):
            if jti != keep and self.find(RevokedSession.create_id(jti), RevokedSession) is None:
                ended.append(RevokedSession(jti=jti, user_id=user_id, revoked_at=now))
        return ended

    def _sessions_begun_since(self, user_id, cutoff):
        """The jti of each session the user began at `cutoff` (epoch seconds) or later: the
        user's own LoggedIn events, read newest first until one is older."""
        lte, page_size = None, 100  # in pages: a user may have logged in thousands of times
        while True:
            page = list(self.repository.event_store.get(uuid.UUID(user_id), desc=True, lte=lte, limit=page_size))
            for domain_event in page:
                at = getattr(domain_event, "at", None)
                if at is not None and at < cutoff:
                    return
                if isinstance(domain_event, User.LoggedIn):
                    yield domain_event.session_id
            if len(page) < page_size:
                return
            lte = page[-1].originator_version - 1

    @command
    def reset_password(self, run, mobile, sms_code, new_password, client=None):
        """`client`: the caller's address, from the gateway: its wrong codes block it alone."""
        mobile = check_field("mobile", validators.mobile, mobile)
        code = check_field("sms_code", sms_code_input, sms_code)
        new_password = check_field("new_password", password_input, new_password)
        mobile_digest, client = self.digests.mobile(mobile), self.sms_checks.client_key(client)
        hashed = {}

        def attempt():
            now = self.clock()
            box = self.sms_checks.box(mobile_digest)
            outcome = self.sms_checks.present(box, "reset_password", code, now, client)
            user = self._user_by_mobile(mobile)
            if outcome != CODE_VALID or user is None:
                self.sms_checks.refuse(run, box, "reset_password", outcome, now, SmsCodeInvalid, client=client)
            reasons = weaknesses(new_password, mobile=user.mobile, id_number=user.id_number)
            if reasons:  # the code stays valid: the user may try another password
                raise WeakPassword.of(reasons, field="new_password")
            if "hash" not in hashed:
                hashed["hash"] = self.passwords.hash(new_password)
            box.consume(purpose="reset_password", at=now, client=client)
            user.set_password(password_hash=hashed["hash"], reason="reset", at=now)
            run.save(box, user, answer=None)

        retry_on_conflict(attempt, message=ACCOUNT_BUSY)

"""The identity application: registration, SMS codes, passwords, logins and sessions.

Commands and queries take and return simple types. Every command that reads aggregates and then
saves retries on `IntegrityError` (another request saved the same aggregate first) by reading
again, so counters and single-use codes hold under concurrent requests.
"""
import re
import secrets
import time
import uuid

from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from contracts import validators
from contracts.errors import ValidationFailed
from contracts.identity import ID_TYPES, PASSWORD_INPUT_MAX, SETUP_TOKEN_MAX, SMS_PURPOSES, USERS_BATCH_MAX
from contracts.masking import mask_id_number, mask_mobile
from contracts.tokens import ACCESS_TOKEN_TTL, MAX_TOKEN_INPUT, Tokens
from contracts.validators import check_field, check_fields
from services.common.application import ServiceApplication, retry_on_conflict
from services.common.settings import secret

from .digests import Digests
from .domain import (CODE_EXPIRED, CODE_USED, CODE_VALID, CODE_WRONG, Forbidden, IdNumberIndex,
                     IdNumberTaken, InvalidCredentials, Limits, MobileIndex, MobileTaken, RevokedSession, SmsBox,
                     SmsCodeInvalid, Unauthenticated, User, UserNotFound, WeakPassword, ends_sessions)
from .passwords import Passwords, weaknesses
from .sms_text import sms_text

SMS_CODE_RE = re.compile(r"\d{6}")
ACCOUNT_BUSY = "Too many concurrent changes of the same account; try again."


def _sms_code(value):
    if not isinstance(value, str) or not SMS_CODE_RE.fullmatch(value.strip()):
        raise ValueError("An SMS code is 6 digits.")
    return value.strip()


_purpose = validators.one_of(SMS_PURPOSES)
_one_id_type = validators.one_of(ID_TYPES)


def _id_type(value):
    return ID_TYPES[0] if value is None else _one_id_type(value)


_password_input = validators.string(PASSWORD_INPUT_MAX)


def account_kind(value):
    """('mobile' | 'id_number', normalised value) of a login account, or ValueError."""
    if not isinstance(value, str):
        raise ValueError("Must be a string.")
    v = value.strip()
    if validators.MOBILE_RE.fullmatch(v):
        return "mobile", v
    try:
        return "id_number", validators.resident_id(v)
    except ValueError:
        raise ValueError("Give the mobile number or the resident ID number of the account.") from None


class IdentityApplication(ServiceApplication):
    service_name = "identity"
    # Users gain an event per login, SMS boxes one per request or wrong try: load from snapshots.
    snapshotting_intervals = {User: 20, SmsBox: 20}

    def __init__(self, env=None, *, clock=time.time, limits=None, passwords=None):
        # Cached aggregates are fast-forwarded from the store on every read (and copied), so several
        # instances on one store still see each other's events; a login then reads one short query
        # per aggregate instead of a snapshot and the events after it.
        super().__init__({"AGGREGATE_CACHE_MAXSIZE": "20000", "AGGREGATE_CACHE_FASTFORWARD": "y", **(env or {})})
        self.clock = clock  # epoch seconds; tests replace it to move time
        self.limits = limits or Limits()
        self.passwords = passwords or Passwords()
        self.digests = Digests(secret("EPORT_INDEX_KEY"))
        self.tokens = Tokens(secret("EPORT_TOKEN_SECRET"), ACCESS_TOKEN_TTL)  # the gateway's too

    # -- reading aggregates ----------------------------------------------------------------------
    def _user(self, user_id):
        return self.find(user_id, User)

    def _user_by(self, index_cls, digest):
        entry = self.find(index_cls.create_id(digest), index_cls)
        return None if entry is None else self._user(entry.user_id)

    def _user_by_mobile(self, mobile):
        return self._user_by(MobileIndex, self.digests.mobile(mobile))

    def _box(self, mobile_digest):
        return self.find(SmsBox.create_id(mobile_digest), SmsBox)

    def _taken(self, id_digest, mobile_digest):
        if self.find(IdNumberIndex.create_id(id_digest), IdNumberIndex) is not None:
            raise IdNumberTaken("This ID number is already registered.")
        if self.find(MobileIndex.create_id(mobile_digest), MobileIndex) is not None:
            raise MobileTaken("This mobile number is already registered.")

    # -- SMS codes -------------------------------------------------------------------------------
    def request_sms_code(self, mobile, purpose):
        """Returns (answer for the caller, delivery for notify or None).

        The answer is the same whether the mobile is registered or not. A code is sent for
        `register` always (registering a taken mobile then answers MOBILE_TAKEN to the holder of the
        code, and only to them), for `login` and `reset_password` only to a registered mobile.
        """
        mobile = check_field("mobile", validators.mobile, mobile)
        purpose = check_field("purpose", _purpose, purpose)
        mobile_digest = self.digests.mobile(mobile)
        send = purpose == "register" or \
            self.find(MobileIndex.create_id(mobile_digest), MobileIndex) is not None
        limits = self.limits

        def attempt():
            now = self.clock()
            box = self._box(mobile_digest) or SmsBox(mobile_digest=mobile_digest)
            box.check_can_request(purpose, now, limits)
            code = f"{secrets.randbelow(10 ** 6):06d}" if send else None
            box.issue(purpose=purpose, at=now, expires_at=now + limits.sms_code_ttl,
                      code_digest=None if code is None else self.digests.sms_code(mobile_digest, purpose, code))
            self.save(box)
            return code

        code = retry_on_conflict(attempt, message=ACCOUNT_BUSY)
        answer = {"expires_in": limits.sms_code_ttl, "resend_after": limits.sms_resend_after}
        delivery = None if code is None else {
            "mobile": mobile, "purpose": purpose, "code": code, "text": sms_text(purpose, code, limits)}
        return answer, delivery

    def _present_code(self, box, purpose, code, now):
        """The outcome of presenting `code`; a wrong one is recorded on `box` (not saved here)."""
        if box is None:
            return None
        box.check_not_blocked(purpose, now)
        outcome = box.match(purpose, self.digests.sms_code(box.mobile_digest, purpose, code), now)
        if outcome == CODE_WRONG:
            box.reject(purpose, now, self.limits)
        return outcome

    def _code_refused(self, box, purpose, outcome, now, error):
        if box is not None:
            box.check_not_blocked(purpose, now)  # the wrong try that reached the limit says so
        if outcome == CODE_USED:
            raise error("This code has already been used; ask for a new one.")
        if outcome == CODE_EXPIRED:
            raise error("This code has expired; ask for a new one.")
        raise error("The SMS code is wrong.")

    # -- registration ----------------------------------------------------------------------------
    def register(self, name, id_type, id_number, mobile, sms_code):
        values = check_fields({"name": (validators.person_name, name), "id_type": (_id_type, id_type),
                               "id_number": (validators.resident_id, id_number),
                               "mobile": (validators.mobile, mobile), "sms_code": (_sms_code, sms_code)})
        id_digest = self.digests.id_number(values["id_number"])
        mobile_digest = self.digests.mobile(values["mobile"])

        def attempt():
            now = self.clock()
            box = self._box(mobile_digest)
            outcome = self._present_code(box, "register", values["sms_code"], now)
            if outcome != CODE_VALID:
                if outcome == CODE_WRONG:
                    self.save(box)
                self._code_refused(box, "register", outcome, now, SmsCodeInvalid)
            # Every answer after the code was checked spends it: else one code probes ID numbers.
            box.consume(purpose="register", at=now)
            try:
                self._taken(id_digest, mobile_digest)
            except (IdNumberTaken, MobileTaken):
                self.save(box)  # a conflict: another answer spent it first, and the retry says so
                raise
            token = secrets.token_urlsafe(32)
            user = User(name=values["name"], id_type=values["id_type"], id_number=values["id_number"],
                        mobile=values["mobile"], setup_token_digest=self.digests.setup_token(token),
                        setup_token_expires_at=now + self.limits.setup_token_ttl, registered_at=now)
            user_id = str(user.id)
            # A conflict (the code, the ID number or the mobile) is read again: the retry finds
            # the code spent, or spends it answering taken. The answer is remembered with the
            # account (services/common/commands.py): a retried request gets it again.
            answer = {"user_id": user_id, "password_setup_token": token}
            self.save(user, IdNumberIndex(digest=id_digest, user_id=user_id),
                      MobileIndex(digest=mobile_digest, user_id=user_id), box, answer=answer)
            return answer

        return retry_on_conflict(attempt, message=ACCOUNT_BUSY)

    # -- passwords -------------------------------------------------------------------------------
    def set_password(self, user_id, password, password_setup_token=None, current_password=None,
                     actor_user_id=None, end_other_sessions=False, session_id=None):
        """First password with the setup token of registration; later ones as the logged-in user
        with the current password. A change with `end_other_sessions` also revokes every other
        session of the user (all but `session_id`, the caller's own), in the same transaction."""
        password = check_field("password", _password_input, password)
        if password_setup_token is None and current_password is None:
            raise ValidationFailed({"password_setup_token": [
                "Give the password_setup_token of registration, or current_password with a Bearer token."]})
        check_field("end_other_sessions", validators.boolean, end_other_sessions)
        if end_other_sessions and current_password is None:
            raise ValidationFailed({"end_other_sessions": ["Only with current_password: a first password "
                                                           "has no other sessions to end."]})
        now = self.clock()
        if password_setup_token is not None:
            token = check_field("password_setup_token", validators.string(SETUP_TOKEN_MAX), password_setup_token)
            token_digest = self.digests.setup_token(token)
            user = self._user(user_id)
            if user is None:
                raise InvalidCredentials("The password setup token is wrong.")
            user.check_setup_token(token_digest, now)
            reason = "setup"
        else:
            current_password = check_field("current_password", _password_input, current_password)
            if actor_user_id is None:
                raise Unauthenticated("Changing a password needs a Bearer token.")
            if actor_user_id != user_id:
                raise Forbidden("You can change your own password only.")
            user = self._user(user_id)
            if user is None:
                raise UserNotFound("No such user.")
            user.check_not_locked(now)  # else a lock on logins leaves this way of guessing open
            if not user.has_password or not self.passwords.verify(user.password_hash, current_password):
                retry_on_conflict(lambda: self._wrong_password(self._user(user_id), "The current password is wrong."),
                                  message=ACCOUNT_BUSY)
            reason = "change"
        reasons = weaknesses(password, mobile=user.mobile, id_number=user.id_number)
        if reasons:
            raise WeakPassword(reasons)
        password_hash = self.passwords.hash(password)

        def attempt():
            fresh = self._user(user_id)
            if reason == "setup":  # single use, also against a concurrent setup
                fresh.check_setup_token(token_digest, self.clock())
            now = self.clock()
            fresh.set_password(password_hash=password_hash, reason=reason, at=now)
            ended = self._end_sessions(user_id, keep=session_id, now=now) if end_other_sessions else []
            self.save(fresh, *ended)

        retry_on_conflict(attempt, message=ACCOUNT_BUSY)

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

    def reset_password(self, mobile, sms_code, new_password):
        mobile = check_field("mobile", validators.mobile, mobile)
        code = check_field("sms_code", _sms_code, sms_code)
        new_password = check_field("new_password", _password_input, new_password)
        mobile_digest = self.digests.mobile(mobile)
        hashed = {}

        def attempt():
            now = self.clock()
            box = self._box(mobile_digest)
            outcome = self._present_code(box, "reset_password", code, now)
            user = self._user_by_mobile(mobile)
            if outcome != CODE_VALID or user is None:
                if outcome == CODE_WRONG:
                    self.save(box)
                self._code_refused(box, "reset_password", outcome, now, SmsCodeInvalid)
            reasons = weaknesses(new_password, mobile=user.mobile, id_number=user.id_number)
            if reasons:  # the code stays valid: the user may try another password
                raise WeakPassword(reasons, field="new_password")
            if "hash" not in hashed:
                hashed["hash"] = self.passwords.hash(new_password)
            box.consume(purpose="reset_password", at=now)
            user.set_password(password_hash=hashed["hash"], reason="reset", at=now)
            self.save(box, user)

        retry_on_conflict(attempt, message=ACCOUNT_BUSY)

    # -- logins ----------------------------------------------------------------------------------
    def login_password(self, account, password):
        kind, account = check_field("account", account_kind, account)
        password = check_field("password", _password_input, password)
        if kind == "mobile":
            user = self._user_by(MobileIndex, self.digests.mobile(account))
        else:
            user = self._user_by(IdNumberIndex, self.digests.id_number(account))
        if user is None or not user.has_password:
            self.passwords.spend_dummy_verify(password)
            raise InvalidCredentials("The account or the password is wrong.")
        user.check_not_locked(self.clock())
        verified = self.passwords.verify(user.password_hash, password)
        user_id = str(user.id)
        # Re-read only after a conflict: a lock set while we verified still shows up in check_not_locked.
        first = [user]

        def attempt():
            fresh = first.pop() if first else self._user(user_id)
            now = self.clock()
            fresh.check_not_locked(now)  # others may have locked it while we verified
            if verified:
                answer = self._start_session(fresh, "password", now)
                self.save(fresh, answer=answer)
                return answer
            self._wrong_password(fresh, "The account or the password is wrong.")

        return retry_on_conflict(attempt, message=ACCOUNT_BUSY)

    def _wrong_password(self, user, message):
        """Counts a wrong password (a login's, or a change's current_password) toward the lockout,
        then raises INVALID_CREDENTIALS, or ACCOUNT_LOCKED when it is locked or this locks it."""
        now = self.clock()
        user.check_not_locked(now)  # others may have locked it while we verified
        user.login_failed("password", now, self.limits)
        self.save(user)
        user.check_not_locked(now)
        raise InvalidCredentials(message)

    def login_sms(self, mobile, sms_code):
        mobile = check_field("mobile", validators.mobile, mobile)
        code = check_field("sms_code", _sms_code, sms_code)
        mobile_digest = self.digests.mobile(mobile)

        def attempt():
            now = self.clock()
            box = self._box(mobile_digest)
            outcome = self._present_code(box, "login", code, now)
            user = self._user_by_mobile(mobile)
            if outcome != CODE_VALID or user is None:
                if outcome == CODE_WRONG:
                    if user is not None and not user.is_locked(now):
                        user.login_failed("sms", now, self.limits)
                        self.save(box, user)
                    else:
                        self.save(box)
                self._code_refused(box, "login", outcome, now, InvalidCredentials)
            user.check_not_locked(now)  # the code stays valid until the lock is over
            box.consume(purpose="login", at=now)
            answer = self._start_session(user, "sms", now)
            self.save(box, user, answer=answer)
            return answer

        return retry_on_conflict(attempt, message=ACCOUNT_BUSY)

    def start_card_session(self, user_id, card_no):
        """Card login, once the card service has verified the card and its holder."""
        check_field("card_no", validators.string(64), card_no)

        def attempt():
            user = self._user(user_id)
            if user is None:
                raise UserNotFound("No such user.")
            now = self.clock()
            user.check_not_locked(now)
            answer = self._start_session(user, "card", now)
            self.save(user, answer=answer)
            return answer

        return retry_on_conflict(attempt, message=ACCOUNT_BUSY)

    def _start_session(self, user, method, now):
        """Records the login on `user` (the caller saves it) and answers the new access token."""
        user_id = str(user.id)
        token, jti, _ = self.tokens.issue(user_id, now)
        user.logged_in(method=method, session_id=jti, at=now)
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.tokens.ttl, "user_id": user_id}

    # -- sessions --------------------------------------------------------------------------------
    def authenticate(self, token):
        """{user_id, session_id} of a valid, unexpired, unrevoked access token; else UNAUTHENTICATED."""
        refused = Unauthenticated("The access token is missing, expired or revoked.")
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_INPUT:
            raise refused
        claims = self.tokens.claims(token)
        if claims is None or claims["exp"] <= self.clock():
            raise refused
        if self.find(RevokedSession.create_id(claims["jti"]), RevokedSession) is not None:
            raise refused
        user = self._user(claims["sub"])
        if user is None or user.session_ended(claims["iat"]):
            raise refused
        return {"user_id": claims["sub"], "session_id": claims["jti"]}

    def revoke_session(self, token):
        """Logout: the token itself proves the right to end its session; refused from then on."""
        session = self.authenticate(token)
        try:
            self.save(RevokedSession(jti=session["session_id"], user_id=session["user_id"],
                                     revoked_at=self.clock()))
        except IntegrityError:
            pass  # a concurrent logout of the same token got there first

    def _recent(self, event_cls, at_attribute):
        """Stored events of one type from within a token's lifetime, oldest first."""
        cutoff = self.clock() - self.tokens.ttl
        topic = get_topic(event_cls)
        position = 0
        while True:
            batch = self.recorder.select_notifications(start=position, limit=500, topics=[topic],
                                                       inclusive_of_start=False)
            for notification in batch:
                domain_event = self.mapper.to_domain_event(notification)
                if getattr(domain_event, at_attribute) >= cutoff:
                    yield domain_event
            if len(batch) < 500:
                return
            position = batch[-1].id

    def revoked_sessions(self):
        """The sessions revoked within a token's lifetime, [{session_id, revoked_at}], oldest first.

        For a gateway starting up: from then on it learns revocations from SessionRevoked events.
        """
        return [{"session_id": revoked.jti, "revoked_at": revoked.revoked_at}
                for revoked in self._recent(RevokedSession.Revoked, "revoked_at")]

    def sessions_ended_by_reset(self):
        """The users whose password reset within a token's lifetime ended every earlier session,
        [{user_id, ended_at}]; after that a gateway learns them from PasswordSet events."""
        return [{"user_id": str(reset.originator_id), "ended_at": reset.at}
                for reset in self._recent(User.PasswordSet, "at") if ends_sessions(reset.reason)]

    # -- queries for other services --------------------------------------------------------------
    @staticmethod
    def _public(user):
        return {"user_id": str(user.id), "name": user.name, "id_type": user.id_type,
                "id_number_masked": mask_id_number(user.id_number),
                "mobile_masked": mask_mobile(user.mobile)}

    def get_user(self, user_id):
        user = self._user(user_id)
        if user is None:
            raise UserNotFound("No such user.")
        return self._public(user)

    def get_users(self, user_ids):
        if not isinstance(user_ids, (list, tuple)) or len(user_ids) > USERS_BATCH_MAX:
            raise ValidationFailed({"user_ids": [f"Give a list of at most {USERS_BATCH_MAX} user ids."]})
        found = {}
        for user_id in dict.fromkeys(u for u in user_ids if isinstance(u, str)):
            user = self._user(user_id)
            if user is not None:
                found[user_id] = self._public(user)
        return found

    def holder_matches(self, user_id, holder_name, holder_id_number):
        """Whether the card holder is the registrant: normalised name and ID number compared."""
        user = self._user(user_id)
        if user is None or not isinstance(holder_name, str) or not isinstance(holder_id_number, str):
            return False
        try:
            id_number = validators.resident_id(holder_id_number)
        except ValueError:
            return False
        return id_number == user.id_number and normalised_name(holder_name) == normalised_name(user.name)


_NAME_DOTS = str.maketrans({"•": "·", "・": "·", "･": "·", ".": "·", "．": "·", "‧": "·", "∙": "·"})


def normalised_name(name):
    import unicodedata
    folded = unicodedata.normalize("NFKC", name).translate(_NAME_DOTS).casefold()
    return " ".join(folded.split()).replace(" · ", "·").replace(" ·", "·").replace("· ", "·")

"""The identity application: registration, SMS codes, passwords, logins and sessions.

Commands and queries take and return simple types. Every command that reads aggregates and then
saves retries on `IntegrityError` (another request saved the same aggregate first) by reading
again, so counters and single-use codes hold under concurrent requests. The commands live in
mixins by subject: sms_codes.py, password_setting.py, logins.py, sessions.py, claims.py (实名认证);
the input checks in inputs.py.
"""
import secrets
import time

from contracts import validators
from contracts.errors import ValidationFailed
from contracts.identity import USERS_BATCH_MAX
from contracts.masking import mask_id_number, mask_mobile
from contracts.tokens import ACCESS_TOKEN_TTL, Tokens
from contracts.validators import check_fields
from services.common.application import ServiceApplication, retry_on_conflict
from services.common.commands import command
from services.common.settings import secret, token_signing_keys

from .claims import IdentityClaims
from .collaborators import PasswordLockout, SmsCodeChecks
from services.common.digests import Digests
from .erasures import Erasures
from .domain import (ACCOUNT_BUSY, IdNumberIndex, IdNumberTaken, Limits, MobileIndex,
                     MobileTaken, SmsBox, User, UserNotFound)
from .inputs import id_type_input, normalised_name, sms_code_input
from .logins import Logins
from .password_setting import PasswordSetting
from .passwords import Passwords
from .personal_data import PersonalData
from .sessions import Sessions
from .sms_codes import SmsCodes


class IdentityApplication(SmsCodes, PasswordSetting, Logins, Sessions, IdentityClaims, Erasures, PersonalData,
                          ServiceApplication):
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
        self.tokens = Tokens(token_signing_keys(), ACCESS_TOKEN_TTL)
        # Shared by the mixins instead of calling each other's privates (collaborators.py).
        self.sms_checks = SmsCodeChecks(self)
        self.lockout = PasswordLockout(self)

    # -- reading aggregates ----------------------------------------------------------------------
    def _user(self, user_id):
        return self.find(user_id, User)

    def _user_by(self, index_cls, digest):
        entry = self.find(index_cls.create_id(digest), index_cls)
        user = None if entry is None else self._user(entry.user_id)
        return None if user is None or user.superseded or user.erased else user  # they log in no more

    def _user_by_mobile(self, mobile):
        return self._user_by(MobileIndex, self.digests.mobile(mobile))

    def _held(self, index_cls, digest):
        """The index of a value while an account holds it; None when free (never held, or released
        by an erasure: erasures.py)."""
        index = self.find(index_cls.create_id(digest), index_cls)
        return index if index is not None and index.user_id is not None else None

    def _taken(self, id_digest, mobile_digest):
        if self._held(IdNumberIndex, id_digest) is not None:
            raise IdNumberTaken("This ID number is already registered.")
        if self._held(MobileIndex, mobile_digest) is not None:
            raise MobileTaken("This mobile number is already registered.")

    def _claimed(self, index_cls, digest, user_id):
        """The index of a free value claimed for `user_id`: new, or one an erasure released."""
        index = self.find(index_cls.create_id(digest), index_cls)
        if index is None:
            return index_cls(digest=digest, user_id=user_id)
        index.move_to(user_id)
        return index

    # -- registration ----------------------------------------------------------------------------
    @command
    def register(self, run, name, id_type, id_number, mobile, sms_code, client=None):
        values = check_fields({"name": (validators.person_name, name), "id_type": (id_type_input, id_type),
                               "id_number": (validators.resident_id, id_number),
                               "mobile": (validators.mobile, mobile), "sms_code": (sms_code_input, sms_code)})
        id_digest = self.digests.id_number(values["id_number"])
        mobile_digest, client = self.digests.mobile(values["mobile"]), self.sms_checks.client_key(client)

        def attempt():
            now = self.clock()
            box = self.sms_checks.spend_register_code(run, mobile_digest, values["sms_code"], now, client)
            try:
                self._taken(id_digest, mobile_digest)
            except (IdNumberTaken, MobileTaken) as taken:
                run.refuse(taken, box)  # a conflict: another answer spent it first, and the retry says so
            token = secrets.token_urlsafe(32)
            user = User(name=values["name"], id_type=values["id_type"], id_number=values["id_number"],
                        mobile=values["mobile"], setup_token_digest=self.digests.setup_token(token),
                        setup_token_expires_at=now + self.limits.setup_token_ttl, registered_at=now)
            user_id = str(user.id)
            # A conflict (the code, the ID number or the mobile) is read again: the retry finds
            # the code spent, or spends it answering taken. The answer is remembered with the
            # account (services/common/commands.py): a retried request gets it again.
            answer = {"user_id": user_id, "password_setup_token": token}
            run.save(user, self._claimed(IdNumberIndex, id_digest, user_id),
                     self._claimed(MobileIndex, mobile_digest, user_id), box, answer=answer)
            return answer

        return retry_on_conflict(attempt, message=ACCOUNT_BUSY)

    # -- queries for other services --------------------------------------------------------------
    @staticmethod
    def _public(user):
        return {"user_id": str(user.id), "name": user.name, "id_type": user.id_type,
                "id_number_masked": mask_id_number(user.id_number),
                "mobile_masked": mask_mobile(user.mobile), "identity_verified": user.identity_verified}

    def get_user(self, user_id):
        user = self._user(user_id)
        if user is None or user.erased:  # an erased person is nobody's business any more
            raise UserNotFound("No such user.")
        return self._public(user)

    def get_users(self, user_ids):
        if not isinstance(user_ids, (list, tuple)) or len(user_ids) > USERS_BATCH_MAX:
            raise ValidationFailed(details={"user_ids": [f"Give a list of at most {USERS_BATCH_MAX} user ids."]})
        found = {}
        for user_id in dict.fromkeys(u for u in user_ids if isinstance(u, str)):
            user = self._user(user_id)
            if user is not None and not user.erased:
                found[user_id] = self._public(user)
        return found

    def holder_matches(self, user_id, holder_name, holder_id_number):
        """Whether the card holder is the registrant: normalised name and ID number compared."""
        user = self._user(user_id)
        if user is None or user.superseded or user.erased or not isinstance(holder_name, str) \
                or not isinstance(holder_id_number, str):
            return False
        try:
            id_number = validators.resident_id(holder_id_number)
        except ValueError:
            return False
        return id_number == user.id_number and normalised_name(holder_name) == normalised_name(user.name)

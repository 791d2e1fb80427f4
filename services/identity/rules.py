"""The rules of the identity domain that are not aggregates: the numbers that bound abuse (Limits),
the outcomes of presenting an SMS code, and the domain's errors. domain.py re-exports them."""
from dataclasses import dataclass, field

from contracts import errors as e
from contracts.errors import DomainError, RetryLater
from contracts.identity import SMS_CODE_TTL
from services.common.settings import setting


# Outcomes of presenting an SMS code.
CODE_VALID = "valid"
CODE_USED = "used"  # the right code, but already spent
CODE_EXPIRED = "expired"  # the right code, too late
CODE_WRONG = "wrong"  # a guess: counts towards the code's tries and the client's block
CODE_BURNT = "burnt"  # any try of a code whose tries are spent: answered as a wrong one, counted nowhere


@dataclass(frozen=True)
class Limits:
    """Every number that bounds abuse, in one place (tests shorten nothing: they move the clock)."""
    sms_code_ttl: int = SMS_CODE_TTL  # a code is valid 5 minutes (contracts/identity.py)
    sms_resend_after: int = 60  # per mobile and purpose
    sms_max_failures: int = 5  # wrong tries of a code before it is burnt, and of a client before it is blocked
    sms_block: int = 900  # how long that client's verification stays blocked (15 minutes)
    sms_quota: int = 10  # codes per mobile (all purposes) and asking client ...
    sms_quota_window: int = 86400  # ... in any 24 hours
    # codes per mobile in a day, every client together: bounds guessing (docs/RELIABILITY.md)
    sms_codes_per_mobile_day: int = field(default_factory=lambda: int(setting("IDENTITY_SMS_CODES_PER_MOBILE_DAY")))
    login_max_failures: int = 5  # consecutive failed logins that lock the account
    lock: int = 900  # for 15 minutes
    setup_token_ttl: int = 1800
    # The access token's lifetime is contracts/tokens.py ACCESS_TOKEN_TTL: the gateway must know it too.


def ends_sessions(reason):
    """Whether setting a password for `reason` ends every earlier session of the user: a reset
    does (whoever holds the phone takes the account back); a change ends others only when asked."""
    return reason == "reset"


ACCOUNT_BUSY = "Too many concurrent changes of the same account; try again."  # 409 CONFLICT's message


# -- errors ---------------------------------------------------------------------------------------
class SmsCooldown(RetryLater):
    code = e.SMS_COOLDOWN


class SmsQuotaExceeded(RetryLater):
    code = e.SMS_QUOTA_EXCEEDED


class SmsAttemptsExceeded(RetryLater):
    code = e.SMS_CODE_ATTEMPTS_EXCEEDED


class SmsCodeInvalid(DomainError):
    code = e.SMS_CODE_INVALID


class IdNumberTaken(DomainError):
    code = e.ID_NUMBER_TAKEN


class MobileTaken(DomainError):
    code = e.MOBILE_TAKEN


class WeakPassword(DomainError):
    code = e.WEAK_PASSWORD

    @classmethod
    def of(cls, reasons, field="password"):
        # details.password always (what clients of the policy read), and the request's own field name
        details = {"password": list(reasons), field: list(reasons)}
        return cls("The password is too weak: " + " ".join(reasons), details)


class UserNotFound(DomainError):
    code = e.USER_NOT_FOUND

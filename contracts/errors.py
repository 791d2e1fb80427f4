"""Error codes shared by every service and the gateway, and the errors more than one service raises.

Two shapes, one convention:
- `ServiceError(code, message, details)`: the error as it crosses RPC (the gateway gets back this
  base class, whatever a service raised) and the one to raise when the code is data (a recorded
  answer replayed, a code the gateway decides).
- `DomainError` and its subclasses: a named error whose code is its class attribute, built as
  `Forbidden("Only its administrator may do this.")` or `NotAMember(details={"user_id": [...]})`:
  always `(message="", details=None)`, so a message written positionally can never become the code.
  A service's own errors subclass it in its `domain.py`; the ones several services raise live here.
The gateway maps each code to an HTTP status in its one table (`gateway/errors.py`).
"""
import json

from nameko.exceptions import deserialize_to_instance


@deserialize_to_instance
class ServiceError(Exception):
    code = "SERVICE_ERROR"

    def __init__(self, code=None, message="", details=None):
        self.code = code or type(self).code
        self.message = message or self.code.replace("_", " ").capitalize()
        if isinstance(details, str):  # as it crossed RPC
            details = json.loads(details)
        self.details = details or {}
        # The arguments are what nameko serialises, and it turns every non-string value in them
        # into a string: `details` travels as JSON text so that `retry_after` stays a number.
        super().__init__(self.code, self.message, json.dumps(self.details, ensure_ascii=False, default=str))

    def __str__(self):
        return f"{self.code}: {self.message}"

    def plain(self):
        """The base-class copy that crosses RPC (subclasses live in services the caller can't import)."""
        return ServiceError(self.code, self.message, self.details)


class DomainError(ServiceError):
    """A named error: the code is the class's, the message and details the raiser's. A subclass gives
    `default_message` / `default_details` for when the raiser gives none; it adds no constructor of its
    own (an alternative way to build one is a classmethod, as `RetryLater.after`)."""
    default_message = ""
    default_details = None

    def __init__(self, message="", details=None):
        if not isinstance(message, str):
            raise TypeError(f"{type(self).__name__}(message, details): the message comes first, as text")
        if details is None and self.default_details is not None:
            details = json.loads(json.dumps(self.default_details))  # a copy: a raiser may add to it
        super().__init__(type(self).code, message or self.default_message, details)


class ValidationFailed(DomainError):
    """Bad input: `details` maps each field at fault to its messages."""
    code = "VALIDATION_ERROR"
    default_message = "Invalid input"


class Conflict(DomainError):
    """Others kept changing the same aggregates: 409 CONFLICT, the caller may try again."""
    code = "CONFLICT"
    default_message = "Changed by another request at the same moment; try again."


class RetryLater(DomainError):
    """A refusal that ends: `details.retry_after` says in how many seconds (429, 423)."""

    @classmethod
    def after(cls, message, retry_after):
        return cls(message, {"retry_after": int(retry_after)})


# Every code of shared/API.md plus the ones added since. Kept as names so a typo fails at import.
VALIDATION_ERROR = "VALIDATION_ERROR"
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
HTTP_ERROR = "HTTP_ERROR"  # what werkzeug refused before any route (its status kept)
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
REQUEST_TIMEOUT = "REQUEST_TIMEOUT"  # the body did not arrive within the gateway's socket timeout
CONFLICT = "CONFLICT"
RATE_LIMITED = "RATE_LIMITED"  # over a budget (gateway/budgets.py): details.retry_after, Retry-After
# identity
SMS_COOLDOWN = "SMS_COOLDOWN"
SMS_QUOTA_EXCEEDED = "SMS_QUOTA_EXCEEDED"
SMS_CODE_INVALID = "SMS_CODE_INVALID"
SMS_CODE_ATTEMPTS_EXCEEDED = "SMS_CODE_ATTEMPTS_EXCEEDED"
SMS_DELIVERY_FAILED = "SMS_DELIVERY_FAILED"
ID_NUMBER_TAKEN = "ID_NUMBER_TAKEN"
MOBILE_TAKEN = "MOBILE_TAKEN"
ID_NUMBER_VERIFIED = "ID_NUMBER_VERIFIED"  # a claim (实名认证) finds the holding account proved by a card
WEAK_PASSWORD = "WEAK_PASSWORD"
INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
ACCOUNT_LOCKED = "ACCOUNT_LOCKED"
USER_NOT_FOUND = "USER_NOT_FOUND"
# personal data (PIPL Art. 47): an erasure the platform may not do yet
ADMIN_HAS_MEMBERS = "ADMIN_HAS_MEMBERS"  # an administrator with other members hands the role over first
LEGAL_HOLD = "LEGAL_HOLD"  # an operator holds the account's data (eport legal-hold)
# enterprise
ENTERPRISE_NOT_FOUND = "ENTERPRISE_NOT_FOUND"
ENTERPRISE_NOT_REGISTERED = "ENTERPRISE_NOT_REGISTERED"
ENTERPRISE_HAS_ADMIN = "ENTERPRISE_HAS_ADMIN"
ALREADY_ASSOCIATED = "ALREADY_ASSOCIATED"
ASSOCIATION_NOT_FOUND = "ASSOCIATION_NOT_FOUND"
NOT_PENDING = "NOT_PENDING"
NOT_A_MEMBER = "NOT_A_MEMBER"
ROLE_NOT_CERTIFIED = "ROLE_NOT_CERTIFIED"  # 角色认证: the administrator has not proved the role with the 法人卡
ENTERPRISE_FROM_REGISTRY = "ENTERPRISE_FROM_REGISTRY"  # the registry's details are not edited on the platform
TOO_MANY_UNCERTIFIED = "TOO_MANY_UNCERTIFIED"  # an account holds its most enterprises registered by hand, uncertified
MESSAGE_NOT_FOUND = "MESSAGE_NOT_FOUND"
# card
CARD_HOLDER_MISMATCH = "CARD_HOLDER_MISMATCH"
CARD_ALREADY_BOUND = "CARD_ALREADY_BOUND"
CARD_ENTERPRISE_MISMATCH = "CARD_ENTERPRISE_MISMATCH"
CARD_NOT_LEGAL_PERSON = "CARD_NOT_LEGAL_PERSON"
CARD_SIGNATURE_INVALID = "CARD_SIGNATURE_INVALID"
CERTIFICATE_UNTRUSTED = "CERTIFICATE_UNTRUSTED"
CHALLENGE_INVALID = "CHALLENGE_INVALID"
CARD_NOT_BOUND = "CARD_NOT_BOUND"
CARD_REVOCATION_UNAVAILABLE = "CARD_REVOCATION_UNAVAILABLE"  # the CA's revocation list is out of date
# authz
UNKNOWN_SYSTEM = "UNKNOWN_SYSTEM"
# retries (Idempotency-Key)
IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
IDEMPOTENCY_KEY_IN_USE = "IDEMPOTENCY_KEY_IN_USE"


# -- errors several services raise ------------------------------------------------------------------
ROLE_NOT_CERTIFIED_MESSAGE = ("企业管理员角色未认证: bind the enterprise's legal-person card (法人卡) to your "
                              "association with it (绑定) to certify your administrator role (角色认证) first.")


class Forbidden(DomainError):
    code = FORBIDDEN


class Unauthenticated(DomainError):
    code = UNAUTHENTICATED


class InvalidCredentials(DomainError):
    code = INVALID_CREDENTIALS


class NotAMember(DomainError):
    code = NOT_A_MEMBER


class RoleNotCertified(DomainError):
    code = ROLE_NOT_CERTIFIED
    default_message = ROLE_NOT_CERTIFIED_MESSAGE
    default_details = {"role_certified": [False]}

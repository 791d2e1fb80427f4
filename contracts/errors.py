"""Error codes shared by every service and the gateway.

A service raises `ServiceError` (or a subclass in its `domain.py`); the RPC layer sends it as the
base class so that the gateway gets back an instance with `code`, `message` and `details`, and
maps the code to an HTTP status in its one `mapped_errors` table.
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


class ValidationFailed(ServiceError):
    """Bad input: `details` maps each field at fault to its messages."""
    code = "VALIDATION_ERROR"

    def __init__(self, details, message="Invalid input"):
        super().__init__(self.code, message, details)


class Conflict(ServiceError):
    """Others kept changing the same aggregates: 409 CONFLICT, the caller may try again."""
    code = "CONFLICT"

    def __init__(self, message="Changed by another request at the same moment; try again.", details=None):
        super().__init__(self.code, message, details)


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
# identity
SMS_COOLDOWN = "SMS_COOLDOWN"
SMS_QUOTA_EXCEEDED = "SMS_QUOTA_EXCEEDED"
SMS_CODE_INVALID = "SMS_CODE_INVALID"
SMS_CODE_ATTEMPTS_EXCEEDED = "SMS_CODE_ATTEMPTS_EXCEEDED"
SMS_DELIVERY_FAILED = "SMS_DELIVERY_FAILED"
ID_NUMBER_TAKEN = "ID_NUMBER_TAKEN"
MOBILE_TAKEN = "MOBILE_TAKEN"
WEAK_PASSWORD = "WEAK_PASSWORD"
INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
ACCOUNT_LOCKED = "ACCOUNT_LOCKED"
USER_NOT_FOUND = "USER_NOT_FOUND"
# enterprise
ENTERPRISE_NOT_FOUND = "ENTERPRISE_NOT_FOUND"
ENTERPRISE_NOT_REGISTERED = "ENTERPRISE_NOT_REGISTERED"
ENTERPRISE_HAS_ADMIN = "ENTERPRISE_HAS_ADMIN"
ALREADY_ASSOCIATED = "ALREADY_ASSOCIATED"
ASSOCIATION_NOT_FOUND = "ASSOCIATION_NOT_FOUND"
NOT_PENDING = "NOT_PENDING"
NOT_A_MEMBER = "NOT_A_MEMBER"
ROLE_NOT_CERTIFIED = "ROLE_NOT_CERTIFIED"  # 角色认证: the administrator has not proved the role with the 法人卡
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

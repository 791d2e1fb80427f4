"""The one table turning error codes into HTTP statuses, and the API's error body."""
import json

from werkzeug.wrappers import Response

from contracts import errors as e

mapped_errors = {
    e.VALIDATION_ERROR: 400,
    e.UNAUTHENTICATED: 401,
    e.FORBIDDEN: 403,
    e.NOT_FOUND: 404,
    e.METHOD_NOT_ALLOWED: 405,
    e.CONFLICT: 409,
    e.SERVICE_UNAVAILABLE: 503,
    e.PAYLOAD_TOO_LARGE: 413,
    e.REQUEST_TIMEOUT: 408,
    e.RATE_LIMITED: 429,
    # identity
    e.SMS_COOLDOWN: 429,
    e.SMS_QUOTA_EXCEEDED: 429,
    e.SMS_CODE_INVALID: 400,
    e.SMS_CODE_ATTEMPTS_EXCEEDED: 429,
    e.SMS_DELIVERY_FAILED: 503,
    e.ID_NUMBER_TAKEN: 409,
    e.MOBILE_TAKEN: 409,
    e.ID_NUMBER_VERIFIED: 409,
    e.WEAK_PASSWORD: 400,
    e.INVALID_CREDENTIALS: 401,
    e.ACCOUNT_LOCKED: 423,
    e.USER_NOT_FOUND: 404,
    e.ADMIN_HAS_MEMBERS: 409,
    e.LEGAL_HOLD: 409,
    # enterprise
    e.ENTERPRISE_NOT_FOUND: 404,
    e.ENTERPRISE_NOT_REGISTERED: 404,
    e.ENTERPRISE_HAS_ADMIN: 409,
    e.ALREADY_ASSOCIATED: 409,
    e.ASSOCIATION_NOT_FOUND: 404,
    e.NOT_PENDING: 409,
    e.NOT_A_MEMBER: 409,
    e.ROLE_NOT_CERTIFIED: 403,
    e.ENTERPRISE_FROM_REGISTRY: 409,
    e.TOO_MANY_UNCERTIFIED: 409,
    e.MESSAGE_NOT_FOUND: 404,
    # card
    e.CARD_HOLDER_MISMATCH: 422,
    e.CARD_ALREADY_BOUND: 409,
    e.CARD_ENTERPRISE_MISMATCH: 422,
    e.CARD_NOT_LEGAL_PERSON: 422,
    e.CARD_SIGNATURE_INVALID: 400,
    e.CERTIFICATE_UNTRUSTED: 400,
    e.CHALLENGE_INVALID: 400,
    e.CARD_NOT_BOUND: 404,
    e.CARD_REVOCATION_UNAVAILABLE: 503,
    # authz
    e.UNKNOWN_SYSTEM: 400,
    # retries
    e.IDEMPOTENCY_KEY_REUSED: 422,
    e.IDEMPOTENCY_KEY_IN_USE: 409,
}


def status_of(code):
    return mapped_errors.get(code, 500)


def json_response(status, body=None, headers=None):
    if body is None:
        return Response(status=status, headers=headers)
    return Response(json.dumps(body, ensure_ascii=False), status=status, headers=headers,
                    mimetype="application/json")


def error_response(code, message, details=None, status=None):
    """The API's error body; an error that says when to come back (`details.retry_after`, seconds)
    says it in `Retry-After` too, which HTTP clients and proxies understand."""
    retry_after = (details or {}).get("retry_after")
    headers = {"Retry-After": str(retry_after)} if isinstance(retry_after, int) and retry_after >= 0 else None
    return json_response(status or status_of(code),
                         {"error": {"code": code, "message": message, "details": details or {}}}, headers)

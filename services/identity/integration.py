"""Stored identity events -> integration events of contracts/identity.py.

Only what subscribers need crosses the bus: ID numbers and mobiles masked, no password hashes, no
SMS code digests, no setup tokens. SMS boxes and indexes publish nothing; the session id (the
token's jti) travels in UserLoggedIn and SessionRevoked.
"""

from contracts.envelope import make_envelope
from contracts.identity import (ERASURE_COMPLETED, IDENTITY_VERIFIED, LOGIN_FAILED, PASSWORD_SET, SESSION_REVOKED,
                                USER_ERASED, USER_LOCKED, USER_LOGGED_IN, USER_REGISTERED, USER_SUPERSEDED)
from contracts.masking import mask_id_number, mask_mobile
from contracts.times import iso_of_epoch

from .domain import RevokedSession, User, ends_sessions
from .erasure_domain import Erasure


def _payload(domain_event):
    user_id = str(domain_event.originator_id)
    if isinstance(domain_event, User.Registered):
        return USER_REGISTERED, user_id, {
            "user_id": user_id, "name": domain_event.name, "id_type": domain_event.id_type,
            "id_number_masked": mask_id_number(domain_event.id_number),
            "mobile_masked": mask_mobile(domain_event.mobile)}
    if isinstance(domain_event, User.PasswordSet):
        return PASSWORD_SET, user_id, {"user_id": user_id, "reason": domain_event.reason,
                                       "ends_sessions": ends_sessions(domain_event.reason)}
    if isinstance(domain_event, User.LoggedIn):
        return USER_LOGGED_IN, user_id, {"user_id": user_id, "method": domain_event.method,
                                         "session_id": domain_event.session_id}
    if isinstance(domain_event, User.LoginFailed):
        return LOGIN_FAILED, user_id, {"user_id": user_id, "method": domain_event.method,
                                       "consecutive_failures": domain_event.consecutive_failures}
    if isinstance(domain_event, User.Locked):
        return USER_LOCKED, user_id, {"user_id": user_id, "locked_until": iso_of_epoch(domain_event.locked_until),
                                      "failures": domain_event.failures}
    if isinstance(domain_event, User.IdentityVerified):  # ids only: never the card's holder fields
        return IDENTITY_VERIFIED, user_id, {"user_id": user_id, "via": domain_event.via}
    if isinstance(domain_event, User.Superseded):
        return USER_SUPERSEDED, domain_event.by_user_id, {"user_id": user_id, "by_user_id": domain_event.by_user_id}
    if isinstance(domain_event, User.Erased):  # erasures.py: every service erases its copies
        return USER_ERASED, user_id, {"user_id": user_id, "erasure_id": domain_event.erasure_id}
    if isinstance(domain_event, Erasure.Completed):  # the audit trail's entry of the erasure: ids only
        return ERASURE_COMPLETED, domain_event.user_id, {
            "erasure_id": user_id, "user_id": domain_event.user_id, "requested_by": domain_event.user_id,
            "services": domain_event.services}
    if isinstance(domain_event, RevokedSession.Revoked):
        return SESSION_REVOKED, domain_event.user_id, {"user_id": domain_event.user_id,
                                                       "session_id": domain_event.jti}
    return None


def to_integration(domain_event):
    mapped = _payload(domain_event)
    if mapped is None:
        return
    et, actor, payload = mapped
    yield make_envelope(et, aggregate_id=domain_event.originator_id,
                        aggregate_version=domain_event.originator_version,
                        occurred_at=domain_event.timestamp, payload=payload, actor_user_id=actor)

"""Stored domain events of single sign-on -> integration events of contracts/sso.py (ids only)."""
from contracts import sso as c
from contracts.envelope import make_envelope

from .domain import Client, ProviderSession, TokenFamily
from .signons import LogoutNotice


def to_integration(domain_event):
    if isinstance(domain_event, Client.Registered):
        yield _envelope(domain_event, c.CLIENT_REGISTERED, {
            "client_id": str(domain_event.originator_id), "system": domain_event.system,
            "require_grant": domain_event.require_grant,
            "token_endpoint_auth_method": "none" if getattr(domain_event, "public", False) else "client_secret_basic"})
    elif isinstance(domain_event, Client.Removed):
        yield _envelope(domain_event, c.CLIENT_REMOVED, {"client_id": str(domain_event.originator_id)})
    elif isinstance(domain_event, TokenFamily.Started):
        yield _envelope(domain_event, c.TOKENS_ISSUED, {
            "family_id": str(domain_event.originator_id), "client_id": domain_event.client_id,
            "user_id": domain_event.user_id, "enterprise_id": domain_event.enterprise_id})
    elif isinstance(domain_event, TokenFamily.Ended):
        yield _envelope(domain_event, c.TOKEN_FAMILY_ENDED, {
            "family_id": str(domain_event.originator_id), "client_id": domain_event.client_id,
            "user_id": domain_event.user_id, "reason": domain_event.reason})
    elif isinstance(domain_event, ProviderSession.Closed):
        yield _envelope(domain_event, c.PROVIDER_SESSION_ENDED, {
            "session_id": str(domain_event.originator_id), "user_id": domain_event.user_id,
            "identity_session_id": domain_event.identity_session_id, "reason": domain_event.reason,
            "ends_identity_session": domain_event.ends_identity_session})
    elif isinstance(domain_event, LogoutNotice.Due):
        yield _envelope(domain_event, c.BACKCHANNEL_LOGOUT_DUE, {
            "notice_id": str(domain_event.originator_id), "client_id": domain_event.client_id,
            "user_id": domain_event.user_id, "session_id": domain_event.session_id, "reason": domain_event.reason})
    # sessions begun, codes and rotations are not published: the audit trail keeps who was given tokens and why
    # they ended, not each renewal


def _envelope(domain_event, et, payload):
    return make_envelope(et, aggregate_id=domain_event.originator_id,
                         aggregate_version=domain_event.originator_version,
                         occurred_at=domain_event.timestamp, payload=payload,
                         actor_user_id=getattr(domain_event, "actor_user_id", None))

"""Integration events published by the single sign-on service on exchange `sso.events` (ids only).

The platform is an OpenID Provider (shared/API.md "Single sign-on for business systems"): business
systems are its clients. What it publishes is for the audit trail: which client was registered or
removed, who signed in through it, which client was given tokens for whom in which enterprise, and
when such tokens ended (a replayed code, a reused refresh token, a logout, a grant lost).
"""
from marshmallow import Schema, fields, validate

from .envelope import Id, MemberPayload, UserPayload, event_type

SOURCE = "sso"
# Why a family of tokens (those one code gave, and the refreshes of them) ended
FAMILY_END_REASONS = ("code_replayed", "refresh_reused", "logged_out", "session_ended", "grant_lost",
                      "client_removed", "password_reset", "superseded", "membership_ended", "erased")
# Why a provider session ended, or a business system is told that one of its sessions did (back-channel logout):
# logged_out (RP-initiated logout), session_ended (the identity session under it was logged out), password_reset,
# superseded (UserSuperseded), membership_ended (removed from the enterprise), grant_lost (the system's grant revoked)
LOGOUT_REASONS = ("logged_out", "session_ended", "password_reset", "superseded", "membership_ended", "grant_lost",
                  "erased")  # erased: the person's data was erased (UserErased)
# The scope that names the enterprise a login is for: eport:enterprise:{enterprise_id}
ENTERPRISE_SCOPE_PREFIX = "eport:enterprise:"
CLIENT_NAME_MAX = 100
REDIRECT_URI_MAX = 500
# the console chooser's return_to, an /oauth2/authorize request: three times this, %-encoded, fits a request line
RETURN_TO_MAX = 2000


class ClientRegisteredPayload(Schema):
    client_id = Id(required=True)
    system = fields.String(allow_none=True, load_default=None, metadata={
        "description": "the business system (code of GET /api/v1/systems) the client is, or null"})
    require_grant = fields.Boolean(required=True, metadata={
        "description": "only people granted `system` in the chosen enterprise get in"})
    token_endpoint_auth_method = fields.String(load_default="client_secret_basic", validate=validate.OneOf(
        ("client_secret_basic", "none")), metadata={"description": "none: a public client (it runs in the "
                                                                   "browser, no secret; PKCE S256 still required)"})


class ClientRemovedPayload(Schema):
    client_id = Id(required=True)


class TokensIssuedPayload(MemberPayload):
    family_id = Id(required=True, metadata={"description": "the tokens one authorization code gave, and their "
                                                           "refreshes"})
    client_id = Id(required=True)


class TokenFamilyEndedPayload(UserPayload):
    family_id = Id(required=True)
    client_id = Id(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(FAMILY_END_REASONS))


class ProviderSessionEndedPayload(UserPayload):
    session_id = Id(required=True, metadata={"description": "the provider session (the `sid` of its ID tokens)"})
    identity_session_id = fields.String(required=True, metadata={"description": "the identity session it rested "
                                                                                "on: an access token's jti, as in "
                                                                                "identity's SessionRevoked"})
    reason = fields.String(required=True, validate=validate.OneOf(LOGOUT_REASONS))
    ends_identity_session = fields.Boolean(required=True, metadata={
        "description": "a logout at the provider: the identity session it rested on ends too"})


class BackchannelLogoutDuePayload(Schema):
    notice_id = Id(required=True, metadata={"description": "the logout token's jti"})
    client_id = Id(required=True, metadata={"description": "the business system told (its backchannel_logout_uri)"})
    user_id = Id(required=True, metadata={"description": "the logout token's sub"})
    session_id = Id(required=True, metadata={"description": "the logout token's sid"})
    reason = fields.String(required=True, validate=validate.OneOf(LOGOUT_REASONS))


CLIENT_REGISTERED = event_type(SOURCE, "ClientRegistered", ClientRegisteredPayload,
                               "An operator registered a business system as a client of single sign-on.")
CLIENT_REMOVED = event_type(SOURCE, "ClientRemoved", ClientRemovedPayload,
                            "An operator removed a client: its tokens work no more.")
TOKENS_ISSUED = event_type(SOURCE, "TokensIssued", TokensIssuedPayload,
                           "A client exchanged an authorization code for tokens of a person in an enterprise.")
TOKEN_FAMILY_ENDED = event_type(SOURCE, "TokenFamilyEnded", TokenFamilyEndedPayload,
                                "The tokens of one login at one client ended: none of them works any more.")
PROVIDER_SESSION_ENDED = event_type(SOURCE, "ProviderSessionEnded", ProviderSessionEndedPayload,
                                    "A person's single sign-on session ended: its cookie logs nobody in any more.")
BACKCHANNEL_LOGOUT_DUE = event_type(SOURCE, "BackchannelLogoutDue", BackchannelLogoutDuePayload,
                                    "A logout token is owed to a business system for one of its sessions (OpenID "
                                    "Connect Back-Channel Logout): single sign-on's own consumer POSTs it.")

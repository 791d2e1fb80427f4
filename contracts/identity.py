"""Integration events published by the identity service on exchange `identity.events`."""
from marshmallow import Schema, fields

from .envelope import event_type

SOURCE = "identity"


class UserRegisteredPayload(Schema):
    user_id = fields.String(required=True)
    name = fields.String(required=True)
    id_type = fields.String(required=True)
    id_number_masked = fields.String(required=True)
    mobile_masked = fields.String(required=True)


class PasswordSetPayload(Schema):
    user_id = fields.String(required=True)
    reason = fields.String(required=True, metadata={"description": "setup, change or reset"})


class UserLockedPayload(Schema):
    user_id = fields.String(required=True)
    locked_until = fields.String(required=True)
    failures = fields.Integer(required=True)


class UserLoggedInPayload(Schema):
    user_id = fields.String(required=True)
    method = fields.String(required=True, metadata={"description": "password, sms or card"})
    session_id = fields.String(required=True, metadata={"description": "the token's jti"})


class LoginFailedPayload(Schema):
    user_id = fields.String(required=True)
    method = fields.String(required=True)
    consecutive_failures = fields.Integer(required=True)


class SessionRevokedPayload(Schema):
    user_id = fields.String(required=True)
    session_id = fields.String(required=True)


USER_REGISTERED = event_type(SOURCE, "UserRegistered", UserRegisteredPayload,
                             "A person registered an account (ID number and mobile masked).")
PASSWORD_SET = event_type(SOURCE, "PasswordSet", PasswordSetPayload,
                          "The account's password was set for the first time, changed or reset.")
USER_LOCKED = event_type(SOURCE, "UserLocked", UserLockedPayload,
                         "Too many consecutive failed logins locked the account until `locked_until`.")
USER_LOGGED_IN = event_type(SOURCE, "UserLoggedIn", UserLoggedInPayload, "A login succeeded.")
LOGIN_FAILED = event_type(SOURCE, "LoginFailed", LoginFailedPayload,
                          "A login of a known account failed (unknown accounts are not recorded).")
SESSION_REVOKED = event_type(SOURCE, "SessionRevoked", SessionRevokedPayload,
                             "The user logged out; the session's token is refused from then on.")

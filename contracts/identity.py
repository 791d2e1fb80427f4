"""Integration events published by the identity service on exchange `identity.events`."""
from marshmallow import Schema, fields, validate

from .envelope import Id, Timestamp, event_type

SOURCE = "identity"

# Shared by the gateway's schemas, the identity service and notify's send_sms.
SMS_PURPOSES = ("register", "login", "reset_password", "personal_data")
# A code of the account's own mobile, asked with its Bearer token: one export or one erasure of the
# person's data (shared/API.md "Personal data").
PERSONAL_DATA = "personal_data"
# How long an SMS code is valid (identity's Limits); notify's outbox keeps no code longer than this.
SMS_CODE_TTL = 300
ID_TYPES = ("resident_id",)  # the only identity document supported for now
LOGIN_METHODS = ("password", "sms", "card")
PASSWORD_REASONS = ("setup", "change", "reset")
VERIFIED_VIA = ("card", "claim")  # how an account's holder proved the ID number (实名认证)
# Longer input is refused before any hashing; the password policy (8 to 64) is identity's, as WEAK_PASSWORD.
PASSWORD_INPUT_MAX = 256
SETUP_TOKEN_MAX = 256
USERS_BATCH_MAX = 1000  # user ids one identity.get_users call answers


class UserRegisteredPayload(Schema):
    user_id = Id(required=True)
    name = fields.String(required=True)
    id_type = fields.String(required=True, metadata={"enum": list(ID_TYPES)})
    id_number_masked = fields.String(required=True, metadata={"pattern": r"^[0-9]{6}\*{8}[0-9]{3}[0-9X]$",
                                                              "example": "110105********002X"})
    mobile_masked = fields.String(required=True, metadata={"pattern": r"^1[0-9]{2}\*{4}[0-9]{4}$",
                                                           "example": "133****6117"})


class PasswordSetPayload(Schema):
    user_id = Id(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(PASSWORD_REASONS),
                           metadata={"description": "setup, change or reset (a reset also lifts a lock)"})
    ends_sessions = fields.Boolean(load_default=False, metadata={
        "description": "every session begun before this event has ended (a reset); added after v1"})


class UserLockedPayload(Schema):
    user_id = Id(required=True)
    locked_until = Timestamp(required=True, metadata={"description": "ISO 8601 with timezone"})
    failures = fields.Integer(required=True, metadata={"description": "consecutive failed logins that locked it"})


class UserLoggedInPayload(Schema):
    user_id = Id(required=True)
    method = fields.String(required=True, validate=validate.OneOf(LOGIN_METHODS),
                           metadata={"description": "password, sms or card"})
    session_id = fields.String(required=True, metadata={"description": "the token's jti"})


class LoginFailedPayload(Schema):
    user_id = Id(required=True)
    method = fields.String(required=True, validate=validate.OneOf(LOGIN_METHODS))
    consecutive_failures = fields.Integer(required=True, metadata={
        "description": "wrong passwords for the account in a row (a login's or a change's current "
                       "password; wrong SMS codes count on the code alone); the 5th locks password logins"})


class SessionRevokedPayload(Schema):
    user_id = Id(required=True)
    session_id = fields.String(required=True)


class IdentityVerifiedPayload(Schema):
    user_id = Id(required=True)
    via = fields.String(required=True, validate=validate.OneOf(VERIFIED_VIA), metadata={
        "description": "card: the holder bound a card of the e-port CA naming their name and ID number; claim: "
                       "the account was made by a claim with such a card (POST /api/v1/identity-claims)"})


class UserSupersededPayload(Schema):
    user_id = Id(required=True, metadata={
        "description": "the unverified account that held the ID number: its sessions have ended, it can no longer "
                       "log in, its memberships end (reason superseded)"})
    by_user_id = Id(required=True, metadata={"description": "the card holder's new account, which holds the ID "
                                                            "number from now on"})


USER_REGISTERED = event_type(SOURCE, "UserRegistered", UserRegisteredPayload,
                             "A person registered an account (ID number and mobile masked).")
PASSWORD_SET = event_type(SOURCE, "PasswordSet", PasswordSetPayload,
                          "The account's password was set for the first time, changed or reset.")
USER_LOCKED = event_type(SOURCE, "UserLocked", UserLockedPayload,
                         "Too many consecutive failed logins locked the account until `locked_until`.")
USER_LOGGED_IN = event_type(SOURCE, "UserLoggedIn", UserLoggedInPayload, "A login succeeded.")
LOGIN_FAILED = event_type(SOURCE, "LoginFailed", LoginFailedPayload,
                          "A password login of a known account failed (an unknown account's failures "
                          "lock it alike but are not published).")
SESSION_REVOKED = event_type(SOURCE, "SessionRevoked", SessionRevokedPayload,
                             "The user logged out; the session's token is refused from then on.")
IDENTITY_VERIFIED = event_type(SOURCE, "IdentityVerified", IdentityVerifiedPayload,
                               "The account's holder proved the ID number with a card of the e-port CA (实名认证).")
USER_SUPERSEDED = event_type(SOURCE, "UserSuperseded", UserSupersededPayload,
                             "The holder of the ID number's card claimed it: this unverified account holding it is "
                             "superseded (sessions ended, no login), and the ID number belongs to `by_user_id`.")


class UserErasedPayload(Schema):
    user_id = Id(required=True, metadata={
        "description": "the erased person's account: its sessions have ended, it can no longer log in, its ID number "
                       "and mobile are free; every subscriber erases what it holds of the person (PIPL Art. 47), and "
                       "this id stays only as a pseudonym"})
    erasure_id = Id(required=True, metadata={"description": "the erasure request (`eport erasures list`)"})


class ErasureCompletedPayload(Schema):
    erasure_id = Id(required=True)
    user_id = Id(required=True, metadata={"description": "a pseudonym: the person's data is gone"})
    requested_by = Id(required=True, metadata={"description": "who asked: the person, for themself"})
    services = fields.String(required=True, metadata={
        "description": "the services that confirmed they erased their copies, comma-separated",
        "example": "audit,authz,card,enterprise,identity,notify,sso"})


USER_ERASED = event_type(SOURCE, "UserErased", UserErasedPayload,
                         "The person asked for the erasure of their personal data (POST /api/v1/me/erasure): every "
                         "service destroys their keys and purges its copies, then confirms.")
ERASURE_COMPLETED = event_type(SOURCE, "ErasureCompleted", ErasureCompletedPayload,
                               "Every service confirmed the erasure: it is done.")

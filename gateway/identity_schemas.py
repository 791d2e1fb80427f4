"""Request and response bodies of the identity routes (shared/API.md, Identity).

Field checks come from contracts/validators (the identity service applies the same ones again).
Every string has a length cap, checked before anything else, so huge input is a 400 naming the field.
"""
import functools

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from contracts import card as card_contract
from contracts import validators
from contracts.identity import ID_TYPES, PASSWORD_INPUT_MAX, SETUP_TOKEN_MAX, SMS_PURPOSES

from . import field_docs


class CheckedString(fields.String):
    """A string capped at `max_length`, then checked and normalised by a validators function."""

    def __init__(self, check=None, max_length=64, min_length=1, **kwargs):
        self.check = check
        self.max_length = max_length
        self.min_length = min_length
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if len(value) > self.max_length:
            raise ValidationError(f"At most {self.max_length} characters.")
        if len(value) < self.min_length:
            raise ValidationError("Must not be empty." if self.min_length == 1
                                  else f"At least {self.min_length} characters.")
        if self.check is None:
            return value
        try:
            return self.check(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class Certificate(CheckedString):
    """A card's certificate, PEM: its shape here, whether the CA issued it in the card service."""

    def __init__(self, description="the card's certificate, PEM", **kwargs):
        super().__init__(card_contract.certificate, card_contract.CERTIFICATE_MAX,
                         metadata={"description": description, **field_docs.PEM_CERTIFICATE}, **kwargs)


class Signature(CheckedString):
    def __init__(self, description="base64 of the card's DER ECDSA signature over SHA-256(nonce)", **kwargs):
        super().__init__(card_contract.signature, card_contract.SIGNATURE_MAX,
                         metadata={"description": description, **field_docs.CARD_SIGNATURE}, **kwargs)


def _sms_code(value):
    v = value.strip()
    if len(v) != 6 or not v.isascii() or not v.isdigit():
        raise ValueError("An SMS code is 6 digits.")
    return v


def _account(value):
    v = value.strip()
    if validators.MOBILE_RE.fullmatch(v):
        return v
    try:
        return validators.resident_id(v)
    except ValueError:
        raise ValueError("Give the mobile number or the resident ID number of the account.") from None


def Mobile(**kw):
    return CheckedString(validators.mobile, 32, metadata=field_docs.MOBILE, **kw)


def SmsCode(**kw):
    return CheckedString(_sms_code, 16, metadata={"description": "the 6 digits received by SMS", **field_docs.SMS_CODE},
                         **kw)


def Password(**kw):
    return CheckedString(None, PASSWORD_INPUT_MAX, metadata={
        "description": "8 to 64 characters; not one of the 1,000 most common passwords, not "
                       "containing the mobile or ID number (else 400 WEAK_PASSWORD saying why)"}, **kw)


# -- SMS codes --------------------------------------------------------------------------------------
class SmsCodeRequestSchema(Schema):
    mobile = Mobile(required=True)
    purpose = fields.String(required=True, validate=validate.OneOf(SMS_PURPOSES))


class SmsCodeAcceptedSchema(Schema):
    expires_in = fields.Integer(required=True, metadata={"description": "seconds the code stays valid"})
    resend_after = fields.Integer(required=True, metadata={"description": "seconds before another code may be asked"})


# -- users ------------------------------------------------------------------------------------------
class RegistrationSchema(Schema):
    name = CheckedString(validators.person_name, 64, required=True,
                         metadata={"description": "2 to 30 characters; Chinese names may use ·",
                                   **field_docs.PERSON_NAME})
    id_type = fields.String(load_default=ID_TYPES[0], validate=validate.OneOf(ID_TYPES))
    id_number = CheckedString(validators.resident_id, 32, required=True,
                              metadata={"description": "18 characters with valid birth date and check digit",
                                        **field_docs.RESIDENT_ID})
    mobile = Mobile(required=True)
    sms_code = SmsCode(required=True)


class RegisteredSchema(Schema):
    user_id = fields.String(required=True)
    password_setup_token = fields.String(required=True, metadata={
        "description": "single use, valid 30 minutes: PUT /api/v1/users/{user_id}/password"})


class PasswordSchema(Schema):
    password = Password(required=True)
    password_setup_token = CheckedString(None, SETUP_TOKEN_MAX, metadata={"description": "first password"})
    current_password = CheckedString(None, PASSWORD_INPUT_MAX, metadata={
        "description": "later changes, with the Bearer token of the same user"})
    end_other_sessions = fields.Boolean(metadata={
        "description": "with current_password: also end every other session of the user (all but the "
                       "one whose token made this request), at every gateway; true when left out "
                       "(give false to keep them)"})

    @validates_schema
    def _one_proof(self, data, **kwargs):
        if data.get("end_other_sessions") and "current_password" not in data:
            raise ValidationError("Only with current_password: a first password has no other sessions to end.",
                                  field_name="end_other_sessions")
        if "password_setup_token" in data and "current_password" in data:
            raise ValidationError("Give password_setup_token or current_password, not both.",
                                  field_name="current_password")
        if "password_setup_token" not in data and "current_password" not in data:
            raise ValidationError("Give the password_setup_token of registration, or current_password "
                                  "with a Bearer token.", field_name="password_setup_token")


# -- sessions ---------------------------------------------------------------------------------------
class _LoginSchema(Schema):
    method = fields.String(required=True)


class PasswordLoginSchema(_LoginSchema):
    account = CheckedString(_account, 32, required=True, metadata={"description": "mobile or ID number",
                                                                    **field_docs.ACCOUNT})
    password = CheckedString(None, PASSWORD_INPUT_MAX, required=True)


class SmsLoginSchema(_LoginSchema):
    mobile = Mobile(required=True)
    sms_code = SmsCode(required=True)


class CardLoginSchema(_LoginSchema):
    challenge_id = CheckedString(None, 128, required=True, metadata=field_docs.NOT_BLANK)
    certificate = Certificate(required=True)
    signature = Signature(required=True)


LOGIN_SCHEMAS = {"password": PasswordLoginSchema, "sms": SmsLoginSchema, "card": CardLoginSchema}


class SessionRequestSchema(Schema):
    """One body per `method`; the fields of the other methods are ignored."""

    method = fields.String(required=True, validate=validate.OneOf(tuple(LOGIN_SCHEMAS)))
    account = fields.String(metadata={"description": "method password: mobile or ID number"})
    password = fields.String(metadata={"description": "method password"})
    mobile = fields.String(metadata={"description": "method sms"})
    sms_code = fields.String(metadata={"description": "method sms: a code of purpose login"})
    challenge_id = fields.String(metadata={"description": "method card"})
    certificate = fields.String(metadata={"description": "method card: the card's certificate, PEM"})
    signature = fields.String(metadata={"description": "method card: the card's signature of the nonce, base64"})

    def load(self, data, **kwargs):
        if not isinstance(data, dict):
            raise ValidationError({"_schema": ["The body must be a JSON object."]})
        method = data.get("method")
        if "method" not in data:
            raise ValidationError({"method": ["Missing data for required field."]})
        if not isinstance(method, str) or method not in LOGIN_SCHEMAS:
            raise ValidationError({"method": [f"Must be one of: {', '.join(LOGIN_SCHEMAS)}."]})
        return _login_schema(method, self.unknown).load(data, **kwargs)


@functools.cache
def _login_schema(method, unknown):
    # Built once per method: a marshmallow schema is reusable and costly to build on every login.
    return LOGIN_SCHEMAS[method](unknown=unknown)


class SessionSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})
    user_id = fields.String(required=True)


# -- password resets --------------------------------------------------------------------------------
class PasswordResetSchema(Schema):
    mobile = Mobile(required=True)
    sms_code = SmsCode(required=True)
    new_password = Password(required=True)

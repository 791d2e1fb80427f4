"""Request and response bodies of the card routes (shared/API.md, IC cards).

Field checks come from contracts/card.py (the card service applies the same ones again); every
string has a length cap, so huge input is a 400 naming the field.
"""
from marshmallow import Schema, fields, validate

from contracts import card as contract

from . import field_docs
from .enterprise_schemas import CardSchema, EnterpriseDetailsSchema
from .identity_schemas import Certificate, CheckedString, RegisteredSchema, RegistrationSchema, Signature


def CardNo(**kw):
    return CheckedString(contract.card_no, 64, metadata={"description": "the IC card number (卡号)",
                                                         **field_docs.CARD_NO}, **kw)


class CardChallengeRequestSchema(Schema):
    purpose = fields.String(required=True, validate=validate.OneOf(contract.CHALLENGE_PURPOSES), metadata={
        "description": "bind (with the Bearer token of the account binding the card), login or identity (a claim "
                       "of the ID number, POST /api/v1/identity-claims): both anonymous"})
    card_no = CardNo(required=True)


class CardChallengeSchema(Schema):
    challenge_id = fields.String(required=True)
    nonce = fields.String(required=True, metadata={
        "description": "base64 of 32 random bytes for the card to sign (INTERNAL AUTHENTICATE)"})
    expires_in = fields.Integer(required=True, metadata={"description": "seconds; single use"})


class CardBindRequestSchema(Schema):
    card_no = CardNo(required=True)
    challenge_id = CheckedString(None, 128, required=True, metadata={"description": "a `bind` challenge of this card",
                                                                    **field_docs.NOT_BLANK})
    certificate = Certificate(required=True)
    signature = Signature(required=True)


class AdminClaimRequestSchema(CardBindRequestSchema, EnterpriseDetailsSchema):
    """A `bind` challenge answered by the enterprise's legal-person card, and the enterprise's USCC
    (with its details, should the claim register it)."""


class IdentityClaimRequestSchema(CardBindRequestSchema, RegistrationSchema):
    """The person as registration names them (the SMS code a `register` one of that mobile), and an
    `identity` challenge answered by the card whose certificate names that name and ID number."""


class IdentityClaimSchema(RegisteredSchema):
    identity_verified = fields.Boolean(required=True, metadata={"description": "true: 实名认证 已认证"})
    superseded_user_id = fields.String(allow_none=True, required=True, metadata={
        "description": "the unverified account that held the ID number, superseded (its sessions ended, no login, "
                       "memberships removed with reason superseded, grants revoked), else null"})


class AdminClaimSchema(Schema):
    enterprise_id = fields.String(required=True)
    association_id = fields.String(required=True, metadata={"description": "the claimant's, now the administrator's"})
    role = fields.String(required=True, metadata={"description": "admin"})
    status = fields.String(required=True, metadata={"description": "approved"})
    role_certified = fields.Boolean(required=True, metadata={"description": "true: 角色认证 已认证"})
    superseded_user_id = fields.String(allow_none=True, required=True, metadata={
        "description": "the uncertified administrator superseded (their association is removed, reason "
                       "superseded), else null"})
    card = fields.Nested(CardSchema, metadata={"description": "the legal-person card, now bound to the association"})


class CardBindingSchema(Schema):
    card_no = fields.String(required=True)
    card_type = fields.String(required=True, validate=validate.OneOf(contract.CARD_TYPES),
                              metadata={"description": "legal_person (法人卡) or operator (操作员卡)"})
    bound_at = fields.String(required=True, metadata={"description": "ISO 8601"})
    warning = fields.String(allow_none=True, metadata={
        "description": "null, or advice when the card type does not suit the role: administrators should "
                       "bind the enterprise's legal-person card, users an operator card"})
    role_certified = fields.Boolean(required=True, metadata={
        "description": "角色认证 of the caller's role after this binding: true once an administrator bound the "
                       "enterprise's legal-person card (an operator card certifies no role)"})

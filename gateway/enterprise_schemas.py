"""Request and response shapes of the enterprise, association and /me endpoints (shared/API.md)."""
from marshmallow import Schema, ValidationError, fields, validate

from contracts import validators
from contracts.enterprise import ADDRESS_MAX, BUSINESS_SCOPE_MAX, NAME_MAX, REJECT_REASON_MAX, ROLES, STATUSES

from . import field_docs
from .ids import Uuid
from .pages import PageQuerySchema, PageSchema


def _uscc(value):
    try:
        validators.uscc(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def check_uscc_param(value):
    """For the USCC in a path: the same messages as in a body."""
    from contracts.errors import ValidationFailed
    try:
        return validators.uscc(value)
    except ValueError as exc:
        raise ValidationFailed(details={"uscc": [str(exc)]}) from None


class Uscc(fields.String):
    def __init__(self, **kwargs):
        super().__init__(validate=_uscc, metadata={
            "description": "unified social credit code (GB 32100-2015): 18 characters, check character last",
            **field_docs.USCC}, **kwargs)


class RegistryEntrySchema(Schema):
    uscc = fields.String(required=True)
    name = fields.String(required=True)
    address = fields.String(required=True)
    business_scope = fields.String(required=True)
    registered = fields.Boolean(required=True, metadata={"description": "an administrator has registered it here"})
    certified = fields.Boolean(metadata={"description": "the registry knows it (企业认证)"})
    from_registry = fields.Boolean(metadata={
        "description": "the details are the enterprise credit registry's; false: typed by hand (an admin claim "
                       "replaces them, its certified administrator may edit them)"})
    enterprise_id = fields.String(allow_none=True, metadata={"description": "set once registered"})


class EnterpriseDetailsSchema(Schema):
    """What is typed for an enterprise the registry does not know, when it is registered."""
    uscc = Uscc(required=True)
    name = fields.String(allow_none=True, validate=validate.Length(max=NAME_MAX), metadata={
        "description": "企业名称; required when this registers the enterprise and the registry has no entry"})
    address = fields.String(allow_none=True, validate=validate.Length(max=ADDRESS_MAX),
                            metadata={"description": "注册地址; as name"})
    business_scope = fields.String(allow_none=True, validate=validate.Length(max=BUSINESS_SCOPE_MAX),
                                   metadata={"description": "经营范围; as name"})


class AssociationBodySchema(EnterpriseDetailsSchema):
    role = fields.String(required=True, validate=validate.OneOf(ROLES),
                         metadata={"description": "admin (企业管理员) registers the enterprise; "
                                                  "user (企业用户) applies"})


class AssociationCreatedSchema(Schema):
    association_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))


def _typed(max_length, label):
    """A detail typed by hand: at most `max_length` characters, not blank (the service strips it)."""
    return fields.String(allow_none=True, validate=[validate.Length(max=max_length), validate.Regexp(r"\S")],
                         metadata={"description": f"{label}; absent or null: unchanged", "pattern": r"\S"})


class EnterpriseEditSchema(Schema):
    """PUT /api/v1/enterprises/{id}: new details of an enterprise entered by hand."""
    name = _typed(NAME_MAX, "企业名称")
    address = _typed(ADDRESS_MAX, "注册地址")
    business_scope = _typed(BUSINESS_SCOPE_MAX, "经营范围")


class EnterpriseSchema(Schema):
    enterprise_id = fields.String(required=True)
    uscc = fields.String(required=True)
    name = fields.String(required=True)
    address = fields.String(required=True)
    business_scope = fields.String(required=True)
    certified = fields.Boolean(required=True, metadata={"description": "企业认证"})
    admin_user_id = fields.String(required=True)
    admin_role_certified = fields.Boolean(required=True, metadata={
        "description": "角色认证 of the administrator: until true they may look but not act (403 ROLE_NOT_CERTIFIED)"})
    from_registry = fields.Boolean(metadata={
        "description": "the details are the enterprise credit registry's (not edited here: PUT answers 409 "
                       "ENTERPRISE_FROM_REGISTRY); false: typed by hand, editable by its certified administrator"})
    registered_at = fields.String(metadata={"description": "ISO 8601"})


class CardSchema(Schema):
    card_no = fields.String(required=True)
    card_type = fields.String(required=True)
    bound_at = fields.String(required=True)


class MemberSchema(Schema):
    user_id = fields.String(required=True)
    name = fields.String(allow_none=True)
    mobile_masked = fields.String(allow_none=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    status = fields.String(required=True)
    card = fields.Nested(CardSchema, allow_none=True)
    systems = fields.List(fields.String(), required=True)
    association_id = fields.String()
    role_certified = fields.Boolean(required=True, metadata={
        "description": "角色认证: the administrator's role is certified (legal-person card bound, certified handover "
                       "or claim); always false for a user"})


class MembersSchema(PageSchema):
    items = fields.List(fields.Nested(MemberSchema), required=True)


class RequestsQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(STATUSES), metadata={"description": "e.g. pending; all when absent"})


class AssociationRequestSchema(Schema):
    association_id = fields.String(required=True)
    user_id = fields.String(required=True)
    name = fields.String(allow_none=True)
    mobile_masked = fields.String(allow_none=True)
    requested_at = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    decided_at = fields.String(allow_none=True)


class AssociationRequestsSchema(PageSchema):
    items = fields.List(fields.Nested(AssociationRequestSchema), required=True)


class DecisionSchema(Schema):
    association_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))


class RejectBodySchema(Schema):
    reason = fields.String(allow_none=True, validate=validate.Length(min=1, max=REJECT_REASON_MAX))


class AdminTransferBodySchema(Schema):
    user_id = Uuid(required=True, metadata={"description": "an approved member of the enterprise"})


class AdminSchema(Schema):
    enterprise_id = fields.String(required=True)
    admin_user_id = fields.String(required=True)


class MeAssociationSchema(Schema):
    association_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    enterprise_name = fields.String(required=True)
    uscc = fields.String(required=True)
    certified = fields.Boolean(metadata={"description": "企业认证"})
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    role_certified = fields.Boolean(required=True, metadata={
        "description": "角色认证: the administrator's role is certified (legal-person card bound, certified handover "
                       "or claim); always false for a user"})
    card = fields.Nested(CardSchema, allow_none=True, required=True)


class MeSchema(Schema):
    user_id = fields.String(required=True)
    name = fields.String(required=True)
    id_type = fields.String()
    id_number_masked = fields.String(required=True)
    mobile_masked = fields.String(required=True)
    identity_verified = fields.Boolean(required=True, metadata={
        "description": "实名认证: true once the holder proved the ID number with a card of the e-port CA (by binding "
                       "a card whose certificate names them, or by POST /api/v1/identity-claims)"})
    associations = fields.List(fields.Nested(MeAssociationSchema), required=True)

"""Request and response shapes of the permission endpoints (shared/API.md, "Permissions")."""
from marshmallow import Schema, fields, validate

from .ids import Uuid

MAX_SYSTEMS = 100


class SystemSchema(Schema):
    code = fields.String(required=True, metadata={"example": "cargo_declaration"})
    name = fields.String(required=True, metadata={"example": "货物申报"})
    name_en = fields.String(allow_none=True, metadata={"example": "Customs declaration of goods"})


class SystemListSchema(Schema):
    items = fields.List(fields.Nested(SystemSchema), required=True)


class PermissionsBodySchema(Schema):
    systems = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)), required=True,
        validate=validate.Length(max=MAX_SYSTEMS),
        metadata={"description": "the whole set of system codes granted to the member; [] revokes all"})


class PermissionsSchema(Schema):
    systems = fields.List(fields.String(), required=True, metadata={
        "description": "systems the member may use (the administrator: every system once the role is certified, "
                       "none before)"})
    granted = fields.List(fields.String(), metadata={
        "description": "systems granted explicitly (what an administrator keeps after handing the role on)"})
    admin = fields.Boolean(metadata={"description": "true when the member is the enterprise's administrator"})
    role_certified = fields.Boolean(metadata={
        "description": "角色认证: true when the member is the administrator and the role is certified"})


class CheckQuerySchema(Schema):
    user_id = Uuid(required=True)
    enterprise_id = Uuid(required=True)
    system = fields.String(required=True, validate=validate.Length(min=1, max=64))


class CheckSchema(Schema):
    allowed = fields.Boolean(required=True)

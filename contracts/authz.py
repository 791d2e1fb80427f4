"""Integration events published by the authz service on exchange `authz.events`.

Every event of one enterprise comes from one aggregate of the authz service: `aggregate_id` is the
same for the whole enterprise and `aggregate_version` grows by one with each change, so a subscriber
can order what it receives per (enterprise, user, system) by `aggregate_version` (docs/subscribers.md).
"""
from marshmallow import Schema, fields, validate

from .envelope import Id, MemberPayload, event_type

SOURCE = "authz"
REVOKE_REASONS = ("revoked", "membership_ended", "admin_superseded")


class PermissionPayload(MemberPayload):
    system = fields.String(required=True, metadata={"description": "code of GET /api/v1/systems"})
    system_name = fields.String(required=True, metadata={"description": "Chinese name of the system"})


class PermissionRevokedPayload(PermissionPayload):
    reason = fields.String(required=True, validate=validate.OneOf(REVOKE_REASONS), metadata={
        "description": "revoked: the administrator took it away; membership_ended: the member left "
                       "or was removed from the enterprise; admin_superseded: it was granted by an uncertified "
                       "administrator whom the holder of the legal-person card superseded"})


class EnterpriseAdminChangedPayload(Schema):
    enterprise_id = Id(required=True)
    admin_user_id = Id(required=True, metadata={
        "description": "the administrator: allowed every system once `role_certified`, none before"})
    previous_admin_user_id = Id(allow_none=True, load_default=None, metadata={
        "description": "null when the enterprise was registered; from now on it keeps only its grants"})
    role_certified = fields.Boolean(load_default=False, metadata={
        "description": "角色认证: the administrator's role is certified by the enterprise's legal-person card (or a "
                       "certified handover); false: allowed no system. Added after v1 (absent: false)"})


PERMISSION_GRANTED = event_type(SOURCE, "PermissionGranted", PermissionPayload,
                                "The enterprise administrator granted a member the use of one business system.")
PERMISSION_REVOKED = event_type(SOURCE, "PermissionRevoked", PermissionRevokedPayload,
                                "A member lost the use of one business system (revoked by the administrator, "
                                "or every grant of a membership that ended).")
ENTERPRISE_ADMIN_CHANGED = event_type(SOURCE, "EnterpriseAdminChanged", EnterpriseAdminChangedPayload,
                                      "The enterprise's administrator is now `admin_user_id`, or their role was "
                                      "certified: a certified administrator is allowed every system without "
                                      "grants, an uncertified one none.")

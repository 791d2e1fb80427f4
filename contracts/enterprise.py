"""Integration events published by the enterprise service on exchange `enterprise.events`.

Payloads carry ids, roles and enterprise names; person names only where a message must show them
(AssociationRequested), never ID numbers or mobiles. Fields added after v1 are optional for readers
(`load_default=None`), so subscribers written against the first draft keep working.
"""
from marshmallow import Schema, fields, validate

from .envelope import Id, Timestamp, event_type

SOURCE = "enterprise"
ADMIN, USER = ROLES = ("admin", "user")
PENDING, APPROVED, REJECTED, REMOVED = STATUSES = ("pending", "approved", "rejected", "removed")

# Lengths of what people type, checked by the gateway's schemas and again by the enterprise service.
NAME_MAX = 100  # 企业名称
ADDRESS_MAX = 200  # 注册地址
BUSINESS_SCOPE_MAX = 1000  # 经营范围
REJECT_REASON_MAX = 500


class EnterpriseRegisteredPayload(Schema):
    enterprise_id = Id(required=True)
    uscc = fields.String(required=True, metadata={"pattern": r"^[0-9A-HJ-NPQRTUWXY]{18}$"})
    name = fields.String(required=True)
    certified = fields.Boolean(required=True, metadata={"description": "true when the registry knows the USCC"})
    admin_user_id = Id(required=True)


class AssociationPayload(Schema):
    association_id = Id(required=True)
    enterprise_id = Id(required=True)
    user_id = Id(required=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    enterprise_name = fields.String(allow_none=True, load_default=None,
                                    metadata={"description": "for messages to people; added after v1"})


class AssociationRequestedPayload(AssociationPayload):
    admin_user_id = Id(required=True, metadata={
        "description": "the enterprise's administrator when the request was made: who is asked to approve it"})
    user_name = fields.String(allow_none=True, load_default=None,
                              metadata={"description": "the applicant's name as registered (no other PII)"})
    requested_at = Timestamp(allow_none=True, load_default=None, metadata={"description": "ISO 8601"})


class AssociationRejectedPayload(AssociationPayload):
    reason = fields.String(allow_none=True, load_default=None)


class AdminTransferredPayload(Schema):
    enterprise_id = Id(required=True)
    from_user_id = Id(required=True)
    to_user_id = Id(required=True)
    enterprise_name = fields.String(allow_none=True, load_default=None,
                                    metadata={"description": "for messages to people; added after v1"})


class MemberRemovedPayload(AssociationPayload):
    pass


ENTERPRISE_REGISTERED = event_type(SOURCE, "EnterpriseRegistered", EnterpriseRegisteredPayload,
                                   "An administrator registered the enterprise (from the registry or by hand).")
ASSOCIATION_REQUESTED = event_type(SOURCE, "AssociationRequested", AssociationRequestedPayload,
                                   "A user applied to join an enterprise as an ordinary user; pending. "
                                   "`admin_user_id` is who is asked to approve it.")
ASSOCIATION_APPROVED = event_type(SOURCE, "AssociationApproved", AssociationPayload,
                                  "The user is an approved member (role admin: approved when registering).")
ASSOCIATION_REJECTED = event_type(SOURCE, "AssociationRejected", AssociationRejectedPayload,
                                  "The administrator rejected the application.")
ADMIN_TRANSFERRED = event_type(SOURCE, "AdminTransferred", AdminTransferredPayload,
                               "The administrator role moved to another approved member; the former "
                               "administrator stays an approved user.")
MEMBER_REMOVED = event_type(SOURCE, "MemberRemoved", MemberRemovedPayload,
                            "The administrator removed a member; the membership has ended.")

"""Integration events published by the enterprise service on exchange `enterprise.events`."""
from marshmallow import Schema, fields, validate

from .envelope import event_type

SOURCE = "enterprise"
ROLES = ("admin", "user")


class EnterpriseRegisteredPayload(Schema):
    enterprise_id = fields.String(required=True)
    uscc = fields.String(required=True)
    name = fields.String(required=True)
    certified = fields.Boolean(required=True, metadata={"description": "true when the registry knows the USCC"})
    admin_user_id = fields.String(required=True)


class AssociationPayload(Schema):
    association_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    user_id = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))


class AssociationRejectedPayload(AssociationPayload):
    reason = fields.String(allow_none=True, load_default=None)


class AdminTransferredPayload(Schema):
    enterprise_id = fields.String(required=True)
    from_user_id = fields.String(required=True)
    to_user_id = fields.String(required=True)


class MemberRemovedPayload(AssociationPayload):
    pass


ENTERPRISE_REGISTERED = event_type(SOURCE, "EnterpriseRegistered", EnterpriseRegisteredPayload,
                                   "An administrator registered the enterprise (from the registry or by hand).")
ASSOCIATION_REQUESTED = event_type(SOURCE, "AssociationRequested", AssociationPayload,
                                   "A user applied to join an enterprise as an ordinary user; pending.")
ASSOCIATION_APPROVED = event_type(SOURCE, "AssociationApproved", AssociationPayload,
                                  "The user is an approved member (role admin: approved when registering).")
ASSOCIATION_REJECTED = event_type(SOURCE, "AssociationRejected", AssociationRejectedPayload,
                                  "The administrator rejected the application.")
ADMIN_TRANSFERRED = event_type(SOURCE, "AdminTransferred", AdminTransferredPayload,
                               "The administrator role moved to another approved member; the former "
                               "administrator stays an approved user.")
MEMBER_REMOVED = event_type(SOURCE, "MemberRemoved", MemberRemovedPayload,
                            "The administrator removed a member; the membership has ended.")

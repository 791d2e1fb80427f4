"""Integration events published by the enterprise service on exchange `enterprise.events`.

Payloads carry ids, roles and enterprise names; person names only where a message must show them
(AssociationRequested), never ID numbers or mobiles. Fields added after v1 are optional for readers
(`load_default=None`), so subscribers written against the first draft keep working.
"""
from marshmallow import Schema, fields, validate

from .envelope import Id, MemberPayload, Timestamp, event_type

SOURCE = "enterprise"
ADMIN, USER = ROLES = ("admin", "user")
PENDING, APPROVED, REJECTED, REMOVED = STATUSES = ("pending", "approved", "rejected", "removed")
REMOVAL_REASONS = ("removed", "superseded")
# How an administrator's role came to be certified (角色认证):
# legal_person_card: they bound the enterprise's legal-person card (法人卡);
# handover: a certified administrator handed the role to them (变更企业管理员);
# claim: they claimed the role with the legal-person card (POST /api/v1/admin-claims).
CERTIFIED_VIA = ("legal_person_card", "handover", "claim")
# Why a certification that rested on a legal-person card ended: that card was unbound (解除绑定), the CA
# revoked its certificate (CRL), or its certificate expired (notAfter). A handover's never ends so.
CERTIFICATION_LOST_REASONS = ("unbound", "revoked", "expired")
# Who replaced the details of an enterprise entered by hand (the registry's are never edited):
# admin: its certified administrator (PUT /api/v1/enterprises/{id}); claim: the holder of its legal-person card
# claiming the role, whose details replace what an uncertified administrator typed.
DETAILS_VIA = ("admin", "claim")
# Enterprises registered by hand (the registry does not know them) one account may hold as an
# uncertified administrator; one more is 409 TOO_MANY_UNCERTIFIED.
UNCERTIFIED_BY_HAND_MAX = 3

# Lengths of what people type, checked by the gateway's schemas and again by the enterprise service.
NAME_MAX = 100  # 企业名称
ADDRESS_MAX = 200  # 注册地址
BUSINESS_SCOPE_MAX = 1000  # 经营范围
REJECT_REASON_MAX = 500


class EnterpriseRegisteredPayload(Schema):
    enterprise_id = Id(required=True)
    uscc = fields.String(required=True, metadata={"pattern": r"^[0-9A-HJ-NPQRTUWXY]{18}$"})
    name = fields.String(required=True)
    certified = fields.Boolean(required=True, metadata={
        "description": "企业认证: true when the registry knows the USCC, or when the holder of a card of the e-port "
                       "CA naming it registered it (admin claim)"})
    admin_user_id = Id(required=True)


class AssociationPayload(MemberPayload):
    association_id = Id(required=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    enterprise_name = fields.String(allow_none=True, load_default=None,
                                    metadata={"description": "for messages to people; added after v1"})


class AssociationRequestedPayload(AssociationPayload):
    admin_user_id = Id(required=True, metadata={
        "description": "the enterprise's administrator when the request was made: who is asked to approve it"})
    user_name = fields.String(allow_none=True, load_default=None, metadata={
        "description": "always null since 2026-12-07: an applicant's name is no event's business (an uncertified "
                       "administrator must not learn it); the certified administrator reads it in "
                       "GET /api/v1/enterprises/{id}/association-requests"})
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
    reason = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(REMOVAL_REASONS), metadata={
        "description": "removed: the administrator removed the member; superseded: the uncertified "
                       "administrator was replaced by the holder of the legal-person card; added after v1"})


class RoleCertifiedPayload(Schema):
    enterprise_id = Id(required=True)
    user_id = Id(required=True, metadata={"description": "the administrator whose role is now certified"})
    association_id = Id(required=True, metadata={"description": "the administrator's association"})
    via = fields.String(required=True, validate=validate.OneOf(CERTIFIED_VIA), metadata={
        "description": "legal_person_card: bound the enterprise's legal-person card; handover: a certified "
                       "administrator handed the role over; claim: claimed the role with the legal-person card"})
    card_no = fields.String(allow_none=True, load_default=None, metadata={
        "description": "the legal-person card that proved it (null for a handover)"})
    enterprise_name = fields.String(allow_none=True, load_default=None, metadata={"description": "for messages"})


class RoleCertificationLostPayload(Schema):
    enterprise_id = Id(required=True)
    user_id = Id(required=True, metadata={"description": "the administrator whose role is no longer certified"})
    association_id = Id(required=True, metadata={"description": "the administrator's association"})
    card_no = fields.String(required=True, metadata={
        "description": "the legal-person card the certification rested on"})
    reason = fields.String(required=True, validate=validate.OneOf(CERTIFICATION_LOST_REASONS), metadata={
        "description": "unbound: the card was unbound (解除绑定); revoked: the CA revoked its certificate (CRL); "
                       "expired: its certificate's validity ended"})
    enterprise_name = fields.String(allow_none=True, load_default=None, metadata={"description": "for messages"})


class AdminSupersededPayload(Schema):
    enterprise_id = Id(required=True)
    from_user_id = Id(required=True, metadata={
        "description": "the uncertified administrator replaced; their membership ended (MemberRemoved, "
                       "reason superseded) and the grants they made and held are revoked"})
    from_association_id = Id(required=True)
    to_user_id = Id(required=True, metadata={"description": "the holder of the legal-person card"})
    to_association_id = Id(required=True)
    enterprise_name = fields.String(allow_none=True, load_default=None, metadata={"description": "for messages"})


class EnterpriseCertifiedPayload(Schema):
    enterprise_id = Id(required=True)
    uscc = fields.String(required=True, metadata={"pattern": r"^[0-9A-HJ-NPQRTUWXY]{18}$"})
    name = fields.String(required=True)


class EnterpriseDetailsChangedPayload(Schema):
    enterprise_id = Id(required=True)
    uscc = fields.String(required=True, metadata={"pattern": r"^[0-9A-HJ-NPQRTUWXY]{18}$"})
    name = fields.String(required=True, metadata={"description": "企业名称 from now on"})
    via = fields.String(required=True, validate=validate.OneOf(DETAILS_VIA), metadata={
        "description": "admin: its certified administrator edited them; claim: the holder of the legal-person card "
                       "claimed the role and their details replaced the ones typed before"})


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
                            "The administrator removed a member, or an uncertified administrator was "
                            "superseded (`reason`); the membership has ended.")
ROLE_CERTIFIED = event_type(SOURCE, "RoleCertified", RoleCertifiedPayload,
                            "The administrator's role is certified (角色认证): from now on they may approve, grant, "
                            "hand over and read the audit trail, and are allowed every business system.")
ROLE_CERTIFICATION_LOST = event_type(
    SOURCE, "RoleCertificationLost", RoleCertificationLostPayload,
    "The legal-person card the administrator's role certification rested on was unbound, revoked or expired: the "
    "role is no longer certified (角色认证: 未认证). The administrator acts on nothing and is allowed no system "
    "until certified again, and the holder of a valid legal-person card may claim the role.")
ADMIN_SUPERSEDED = event_type(SOURCE, "AdminSuperseded", AdminSupersededPayload,
                              "The holder of the enterprise's legal-person card claimed the administrator role "
                              "from an uncertified administrator; a RoleCertified (via claim) follows.")
ENTERPRISE_CERTIFIED = event_type(SOURCE, "EnterpriseCertified", EnterpriseCertifiedPayload,
                                  "An enterprise entered by hand is certified (企业认证): a card of the e-port CA "
                                  "names its USCC.")
ENTERPRISE_DETAILS_CHANGED = event_type(SOURCE, "EnterpriseDetailsChanged", EnterpriseDetailsChangedPayload,
                                        "The name, address or business scope of an enterprise entered by hand "
                                        "changed (the registry's details never change here).")

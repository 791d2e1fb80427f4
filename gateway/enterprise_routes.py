"""HTTP routes of the enterprise area (see shared/API.md): registry look-up, association,
enterprise detail, members, association requests and the administrator's decisions.

Who may do what is decided by the enterprise service from the actor's id; these routes only
parse, call and join in the people's names (identity), cards (card) and systems (authz).
"""
import logging

from nameko.exceptions import MethodNotFound, UnknownService

from contracts import errors as e
from contracts.enterprise import ADMIN
from services.common.deployment import deployed_services

from .enterprise_schemas import (
    AdminSchema, AdminTransferBodySchema, AssociationBodySchema, AssociationCreatedSchema, AssociationRequestsSchema,
    DecisionSchema, EnterpriseEditSchema, EnterpriseSchema, MembersSchema, RegistryEntrySchema, RejectBodySchema,
    RequestsQuerySchema, check_uscc_param,
)
from .pages import PageQuerySchema, page_query
from .routing import call, route

log = logging.getLogger(__name__)
TAGS = ("enterprises",)


def optional_rpc(gateway, service, method, *args, default=None):
    """Ask a service that may not be deployed yet (card, authz): its answer, or `default` while it
    is absent from this deployment. A deployed service that does not answer is still a 503."""
    if service not in deployed_services():
        return default
    rpc_method = getattr(getattr(gateway, f"{service}_if_deployed"), method)

    def absent_is_default(*a):
        try:
            return rpc_method(*a)
        except (UnknownService, MethodNotFound) as exc:  # not started in this run, or an older version
            log.warning("%s.%s unavailable (%s); answering without it", service, method, type(exc).__name__)
            return default

    return call(absent_is_default, *args)


PEOPLE_BATCH = 100  # ids per identity.get_users call: well within its USERS_BATCH_MAX, each reply stays small


def _people(gateway, user_ids):
    ids, found = sorted(set(user_ids)), {}
    for start in range(0, len(ids), PEOPLE_BATCH):
        found.update(call(gateway.identity.get_users, ids[start:start + PEOPLE_BATCH]) or {})
    return found


class EnterpriseRoutes:
    @route("GET", "/api/v1/enterprise-registry/{uscc}", summary="Look an enterprise up by its USCC (查询企业)",
           response=RegistryEntrySchema, errors=(e.VALIDATION_ERROR, e.ENTERPRISE_NOT_FOUND), tags=TAGS,
           description="From the enterprise credit registry, or the platform's own record when an administrator "
                       "registered it by hand. 404 when neither knows it (未查询到企业, 可手动填写信息).")
    def lookup_registry(self, request, actor, uscc):
        return call(self.enterprise.lookup_registry, check_uscc_param(uscc))

    @route("POST", "/api/v1/associations", summary="Associate with an enterprise (关联企业)", status=201,
           body=AssociationBodySchema, response=AssociationCreatedSchema,
           errors=(e.ENTERPRISE_NOT_REGISTERED, e.ENTERPRISE_HAS_ADMIN, e.ALREADY_ASSOCIATED, e.TOO_MANY_UNCERTIFIED,
                   e.CONFLICT), tags=TAGS,
           description="Role admin registers the enterprise and answers 201 (approved); role user applies and "
                       "answers 202 (pending) until the administrator approves. An account may hold at most 3 "
                       "enterprises registered by hand (the registry does not know them) whose administrator role "
                       "is not certified: one more is 409 TOO_MANY_UNCERTIFIED.")
    def associate(self, request, actor, body):
        result = call(self.enterprise.associate, actor.user_id, body["uscc"], body["role"], body.get("name"),
                      body.get("address"), body.get("business_scope"))
        out = {k: result[k] for k in ("association_id", "enterprise_id", "role", "status")}
        return (201 if result["role"] == ADMIN else 202), out

    @route("GET", "/api/v1/enterprises/{enterprise_id}", summary="An enterprise (企业资料)", response=EnterpriseSchema,
           errors=(e.FORBIDDEN, e.ENTERPRISE_NOT_FOUND), tags=TAGS, description="Only for its approved members.")
    def get_enterprise(self, request, actor, enterprise_id):
        return call(self.enterprise.get_enterprise, enterprise_id, actor.user_id)

    @route("PUT", "/api/v1/enterprises/{enterprise_id}", summary="Edit an enterprise's details (企业资料)",
           body=EnterpriseEditSchema, response=EnterpriseSchema, tags=TAGS,
           errors=(e.FORBIDDEN, e.ROLE_NOT_CERTIFIED, e.ENTERPRISE_NOT_FOUND, e.ENTERPRISE_FROM_REGISTRY, e.CONFLICT),
           description="Only its certified administrator (403 ROLE_NOT_CERTIFIED while the role is uncertified), "
                       "and only for an enterprise entered by hand: 409 ENTERPRISE_FROM_REGISTRY when the "
                       "enterprise credit registry knows the USCC (its details are not edited here). Answers the "
                       "enterprise as GET does.")
    def update_enterprise(self, request, actor, enterprise_id, body):
        return call(self.enterprise.update_details, actor.user_id, enterprise_id, body.get("name"),
                    body.get("address"), body.get("business_scope"))

    @route("GET", "/api/v1/enterprises/{enterprise_id}/members", summary="The enterprise's approved members",
           query=PageQuerySchema, response=MembersSchema,
           errors=(e.FORBIDDEN, e.ROLE_NOT_CERTIFIED, e.ENTERPRISE_NOT_FOUND), tags=TAGS,
           description="Only for its certified administrator (403 ROLE_NOT_CERTIFIED while the role is "
                       "uncertified); the administrator first, then oldest first, a page at a time. `card` is "
                       "null while none is bound; `systems` are the business systems granted.")
    def members(self, request, actor, enterprise_id, query):
        page = call(self.enterprise.members, actor.user_id, enterprise_id, **page_query(query))
        members = page["items"]
        people = _people(self, [m["user_id"] for m in members])
        cards = optional_rpc(self, "card", "cards_of_enterprise", enterprise_id, default={}) or {}
        systems = optional_rpc(self, "authz", "systems_of_members", enterprise_id, default={}) or {}
        items = []
        for m in members:
            person = people.get(m["user_id"]) or {}
            items.append({"user_id": m["user_id"], "association_id": m["association_id"],
                          "name": person.get("name") or m.get("user_name"),
                          "mobile_masked": person.get("mobile_masked"), "role": m["role"], "status": m["status"],
                          "role_certified": m.get("role_certified", False),
                          "card": cards.get(m["user_id"]), "systems": systems.get(m["user_id"], [])})
        return {"items": items, "next_cursor": page["next_cursor"]}

    @route("GET", "/api/v1/enterprises/{enterprise_id}/association-requests",
           summary="Applications to join the enterprise (消息提醒 → 审核)", query=RequestsQuerySchema,
           response=AssociationRequestsSchema, errors=(e.FORBIDDEN, e.ROLE_NOT_CERTIFIED, e.ENTERPRISE_NOT_FOUND),
           tags=TAGS, description="Only for its certified administrator (403 ROLE_NOT_CERTIFIED while the role is "
                                  "uncertified); newest first, a page at a time; `?status=pending` for the ones "
                                  "to decide.")
    def association_requests(self, request, actor, enterprise_id, query):
        page = call(self.enterprise.association_requests, actor.user_id, enterprise_id, query.get("status"),
                    **page_query(query))
        requests_ = page["items"]
        people = _people(self, [r["user_id"] for r in requests_])
        items = []
        for r in requests_:
            person = people.get(r["user_id"]) or {}
            items.append({"association_id": r["association_id"], "user_id": r["user_id"],
                          "name": person.get("name") or r.get("user_name"),
                          "mobile_masked": person.get("mobile_masked"), "requested_at": r["requested_at"],
                          "status": r["status"], "decided_at": r.get("decided_at")})
        return {"items": items, "next_cursor": page["next_cursor"]}

    @route("POST", "/api/v1/association-requests/{association_id}/approve", summary="Approve an application (审核通过)",
           response=DecisionSchema, tags=TAGS,
           errors=(e.FORBIDDEN, e.ROLE_NOT_CERTIFIED, e.ASSOCIATION_NOT_FOUND, e.NOT_PENDING, e.CONFLICT),
           description="Only the enterprise's administrator. 409 NOT_PENDING once decided; 409 CONFLICT when "
                       "another decision on the enterprise was saved at the same moment.")
    def approve(self, request, actor, association_id):
        return call(self.enterprise.approve, actor.user_id, association_id)

    @route("POST", "/api/v1/association-requests/{association_id}/reject", summary="Reject an application",
           body=RejectBodySchema, response=DecisionSchema,
           errors=(e.FORBIDDEN, e.ROLE_NOT_CERTIFIED, e.ASSOCIATION_NOT_FOUND, e.NOT_PENDING, e.CONFLICT), tags=TAGS,
           description="As approve; the applicant may apply again later.")
    def reject(self, request, actor, association_id, body):
        return call(self.enterprise.reject, actor.user_id, association_id, body.get("reason"))

    @route("PUT", "/api/v1/enterprises/{enterprise_id}/admin", summary="Change the administrator (变更企业管理员账号)",
           body=AdminTransferBodySchema, response=AdminSchema,
           errors=(e.FORBIDDEN, e.ROLE_NOT_CERTIFIED, e.ENTERPRISE_NOT_FOUND, e.NOT_A_MEMBER, e.CONFLICT), tags=TAGS,
           description="Only its administrator; the new one must be an approved member. The former administrator "
                       "stays an approved user, and the new one's role is certified (角色认证) as the handover "
                       "is a certified act. 409 CONFLICT when that user is already the administrator (a "
                       "repeated request) or another change was saved at the same moment.")
    def transfer_admin(self, request, actor, enterprise_id, body):
        return call(self.enterprise.transfer_admin, actor.user_id, enterprise_id, body["user_id"])

    @route("DELETE", "/api/v1/enterprises/{enterprise_id}/members/{user_id}", summary="Remove a member",
           status=204, errors=(e.FORBIDDEN, e.ROLE_NOT_CERTIFIED, e.ENTERPRISE_NOT_FOUND, e.NOT_A_MEMBER, e.CONFLICT),
           tags=TAGS,
           description="Only its administrator; not the administrator itself (transfer the role first).")
    def remove_member(self, request, actor, enterprise_id, user_id):
        call(self.enterprise.remove_member, actor.user_id, enterprise_id, user_id)
        return None

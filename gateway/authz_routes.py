"""HTTP routes of the authz area (see shared/API.md, "Permissions")."""
from contracts import errors as e

from .authz_schemas import (CheckQuerySchema, CheckSchema, PermissionsBodySchema, PermissionsSchema,
                            SystemListSchema)
from .routing import call, route

PERMISSIONS = "/api/v1/enterprises/{enterprise_id}/members/{user_id}/permissions"


class AuthzRoutes:
    @route("GET", "/api/v1/systems", summary="The e-port's business systems", auth=False,
           response=SystemListSchema, tags=("permissions",))
    def list_systems(self, request):
        return {"items": call(self.authz.list_systems)}

    @route("GET", PERMISSIONS, summary="The systems a member may use", response=PermissionsSchema,
           errors=(e.FORBIDDEN, e.ROLE_NOT_CERTIFIED), tags=("permissions",),
           description="Only that user, or the enterprise's administrator once certified (403 "
                       "ROLE_NOT_CERTIFIED while the role is uncertified).")
    def get_permissions(self, request, actor, enterprise_id, user_id):
        return call(self.authz.get_permissions, actor.user_id, enterprise_id, user_id)

    @route("PUT", PERMISSIONS, summary="Set the whole set of systems granted to a member",
           body=PermissionsBodySchema, response=PermissionsSchema,
           errors=(e.FORBIDDEN, e.ROLE_NOT_CERTIFIED, e.NOT_A_MEMBER, e.UNKNOWN_SYSTEM), tags=("permissions",),
           description="Only the enterprise's administrator. Records only the differences "
                       "(PermissionGranted / PermissionRevoked events); visible to checks when it returns.")
    def set_permissions(self, request, actor, enterprise_id, user_id, body):
        answer = call(self.authz.set_permissions, actor.user_id, enterprise_id, user_id, body["systems"])
        self.check_answers.fence()  # no instance repeats an answer from before it (gateway/check_answers.py)
        return answer

    @route("GET", "/api/v1/authz/check", summary="May a user use a system of an enterprise?",
           query=CheckQuerySchema, response=CheckSchema,
           errors=(e.FORBIDDEN, e.ROLE_NOT_CERTIFIED, e.UNKNOWN_SYSTEM), tags=("permissions",),
           description="Only for oneself, or as the enterprise's certified administrator (403 ROLE_NOT_CERTIFIED "
                       "while the role is uncertified).")
    def check(self, request, actor, query):
        question = (actor.user_id, query["user_id"], query["enterprise_id"], query["system"])
        return {"allowed": self.check_answers.check(lambda: call(self.authz.check_as, *question), question)}

"""GET /api/v1/me: the caller, their enterprises and the IC card bound for each."""
from .enterprise_routes import optional_rpc
from .enterprise_schemas import MeSchema
from .routing import call, route


class MeRoutes:
    @route("GET", "/api/v1/me", summary="Who I am, my enterprises and cards (我的工作台)", response=MeSchema,
           tags=("identity",), description="`associations` holds the live or last association with each "
                                           "enterprise; `card` is null while none is bound.")
    def me(self, request, actor):
        user = call(self.identity.get_user, actor.user_id)
        associations = call(self.enterprise.associations_of_user, actor.user_id)
        cards = optional_rpc(self, "card", "cards_of_user", actor.user_id, default={}) or {}
        me = {k: user.get(k) for k in ("user_id", "name", "id_type", "id_number_masked", "mobile_masked")}
        me["identity_verified"] = bool(user.get("identity_verified"))
        me["associations"] = [
            {k: a.get(k) for k in ("association_id", "enterprise_id", "enterprise_name", "uscc", "certified",
                                   "role", "status", "role_certified")} | {"card": cards.get(a["enterprise_id"])}
            for a in associations]
        return me

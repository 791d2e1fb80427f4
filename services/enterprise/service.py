"""The enterprise service: RPC entrypoints only; the rules live in the application and domain.

Callers pass `actor_user_id` (the authenticated user, from the gateway); the service decides from
it what that user may do.
"""

from services.common.dependency import EventSourced
from services.common.erasure import ErasureFollower, ForgetsErased
from services.common.messaging import on_event
from services.common.operations import Operated
from services.common.rpc import RpcProxy, rpc

from .application import EnterpriseApplication
from .integration import to_integration
from .peers import Peers


class EnterpriseService(ForgetsErased, Operated):
    name = "enterprise"

    app = EventSourced(EnterpriseApplication, to_integration)
    identity = RpcProxy("identity")
    erasure = ErasureFollower("enterprise")

    @rpc
    def lookup_registry(self, uscc):
        return self.app.lookup_registry(uscc)

    @rpc
    def associate(self, actor_user_id, uscc, role, name=None, address=None, business_scope=None):
        # The applicant's name goes into the request the administrator reads (asked of identity).
        return self.app.associate(actor_user_id, uscc, role, name=name, address=address,
                                  business_scope=business_scope, peers=Peers(self.identity))

    @rpc
    def approve(self, actor_user_id, association_id):
        return self.app.approve(actor_user_id, association_id)

    @rpc
    def reject(self, actor_user_id, association_id, reason=None):
        return self.app.reject(actor_user_id, association_id, reason)

    @rpc
    def update_details(self, actor_user_id, enterprise_id, name=None, address=None, business_scope=None):
        return self.app.update_details(actor_user_id, enterprise_id, name, address, business_scope)

    @rpc
    def transfer_admin(self, actor_user_id, enterprise_id, to_user_id):
        return self.app.transfer_admin(actor_user_id, enterprise_id, to_user_id)

    @rpc
    def remove_member(self, actor_user_id, enterprise_id, user_id):
        return self.app.remove_member(actor_user_id, enterprise_id, user_id)

    # -- called by the card service only, once a card has proved itself (角色认证) ----------------
    @rpc
    def certify_card(self, user_id, enterprise_id, association_id, card_no, card_type, uscc):
        return self.app.certify_card(user_id, enterprise_id, association_id, card_no, card_type, uscc)

    @rpc
    def check_admin_claim(self, actor_user_id, uscc, name=None, address=None, business_scope=None):
        return self.app.check_admin_claim(actor_user_id, uscc, name, address, business_scope)

    @rpc
    def claim_admin(self, actor_user_id, uscc, card_no, name=None, address=None, business_scope=None):
        return self.app.claim_admin(actor_user_id, uscc, card_no, name, address, business_scope)

    @on_event("enterprise", "card")
    def on_card_event(self, envelope):
        self.app.learn(envelope)

    @on_event("enterprise", "identity")
    def on_identity_event(self, envelope):  # UserSuperseded; UserErased (services/common/erasure.py)
        if not self.erasure.erase(envelope, self.identity):
            self.app.learn_identity(envelope)

    @rpc
    def get_enterprise(self, enterprise_id, actor_user_id=None):
        return self.app.get_enterprise(enterprise_id, actor_user_id)

    @rpc
    def members(self, actor_user_id, enterprise_id, limit=None, cursor=None):
        return self.app.members(actor_user_id, enterprise_id, limit, cursor)

    @rpc
    def association_requests(self, actor_user_id, enterprise_id, status=None, limit=None, cursor=None):
        return self.app.association_requests(actor_user_id, enterprise_id, status, limit, cursor)

    @rpc
    def associations_of_user(self, user_id):
        return self.app.associations_of_user(user_id)

    @rpc
    def personal_data(self, user_id):
        """Its part of a person's export; only the gateway asks, with the user id of a verified token."""
        return self.app.personal_data(user_id)

    @rpc
    def membership(self, user_id, enterprise_id):
        return self.app.membership(user_id, enterprise_id)

    @rpc
    def admin_has_members(self, user_id):
        return self.app.admin_has_members(user_id)

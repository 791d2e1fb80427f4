"""The card service: RPC entrypoints and the MemberRemoved consumer; the rules live in the
application and domain.

Callers pass `actor_user_id` (the authenticated user, from the gateway); the service decides from
it what that user may do. Card login (`login`) is anonymous: the card is the credential.
"""

from nameko.timer import timer

from services.common.dependency import EventSourced
from services.common.erasure import ErasureFollower, ForgetsErased
from services.common.messaging import on_event
from services.common.operations import Operated
from services.common.rpc import RpcProxy, rpc

from .application import CardApplication
from .integration import to_integration
from .peers import Peers


class CardService(ForgetsErased, Operated):
    name = "card"

    app = EventSourced(CardApplication, to_integration)
    identity = RpcProxy("identity")
    enterprise = RpcProxy("enterprise")
    erasure = ErasureFollower("card", forget_every_key=True)  # its cards' keys too (application.py unbind_erased)

    def _peers(self):
        return Peers(self.identity, self.enterprise)

    # -- called by the gateway -------------------------------------------------------------------
    @rpc
    def create_challenge(self, purpose, card_no, actor_user_id=None):
        return self.app.create_challenge(purpose, card_no, actor_user_id)

    @rpc
    def bind(self, actor_user_id, enterprise_id, card_no, challenge_id, certificate_pem, signature_b64):
        return self.app.bind(self._peers(), actor_user_id, enterprise_id, card_no, challenge_id,
                             certificate_pem, signature_b64)

    @rpc
    def claim_admin(self, actor_user_id, uscc, card_no, challenge_id, certificate_pem, signature_b64, name=None,
                    address=None, business_scope=None):
        return self.app.claim_admin(self._peers(), actor_user_id, uscc, card_no, challenge_id, certificate_pem,
                                    signature_b64, name, address, business_scope)

    @rpc
    def claim_identity(self, name, id_type, id_number, mobile, sms_code, card_no, challenge_id, certificate_pem,
                       signature_b64, client=None):
        return self.app.claim_identity(self._peers(), name, id_type, id_number, mobile, sms_code, card_no,
                                       challenge_id, certificate_pem, signature_b64, client)

    @rpc
    def unbind(self, actor_user_id, enterprise_id):
        self.app.unbind(actor_user_id, enterprise_id)

    @rpc
    def login(self, challenge_id, certificate_pem, signature_b64):
        return self.app.login(self._peers(), challenge_id, certificate_pem, signature_b64)

    # -- called by every service -----------------------------------------------------------------
    @rpc
    def cards_of_user(self, user_id):
        return self.app.cards_of_user(user_id)

    @rpc
    def personal_data(self, user_id):
        """Its part of a person's export; only the gateway asks, with the user id of a verified token."""
        return self.app.personal_data(user_id)

    @rpc
    def cards_of_enterprise(self, enterprise_id):
        return self.app.cards_of_enterprise(enterprise_id)

    # -- the validity of bound legal-person cards (validity.py) ----------------------------------
    @timer(interval=1)
    def check_validity(self):
        self.app.check_validity()

    # -- events ----------------------------------------------------------------------------------
    @on_event("card", "identity")
    def on_identity_event(self, envelope):  # UserErased (services/common/erasure.py): its cards unbound first
        self.erasure.erase(envelope, self.identity, purge=lambda user_id: self.app.unbind_erased(envelope))

    @on_event("card", "enterprise")
    def on_enterprise_event(self, envelope):
        self.app.learn(envelope)

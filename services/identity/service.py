"""The identity service: thin RPC entrypoints over IdentityApplication."""
from contracts.errors import Forbidden, ValidationFailed
from services.common import context as worker_context
from services.common.context import BROKER_USER
from services.common.dependency import EventSourced
from services.common.erasure import ErasureFollower, ForgetsErased, erasure_services
from services.common.messaging import on_event
from services.common.operations import Operated
from services.common.rpc import RpcProxy, rpc
from services.common.settings import issuer

from .application import IdentityApplication
from .integration import to_integration
from .peers import Peers


class IdentityService(ForgetsErased, Operated):
    name = "identity"

    app = EventSourced(IdentityApplication, to_integration)
    notify = RpcProxy("notify")
    enterprise = RpcProxy("enterprise")
    erasure = ErasureFollower("identity")

    def _peers(self):
        return Peers(self.notify, self.enterprise)

    # -- called by the gateway -------------------------------------------------------------------
    @rpc
    def request_sms_code(self, mobile, purpose, client=None, actor_user_id=None):
        # `actor_user_id`: the caller's, from its Bearer token, for a personal_data code (its own mobile only).
        # `client`: the caller's address (the gateway's), which has its own quota per mobile.
        return self.app.request_sms_code(mobile, purpose, client, actor_user_id, peers=self._peers())

    @rpc
    def token_keys(self):
        """The JWK set of the public keys that verify access tokens (GET /.well-known/jwks.json)."""
        return self.app.tokens.jwks

    @rpc
    def sign_client_token(self, claims):
        """Single sign-on's ID and logout tokens, signed with the key of the JWK set above
        (services/sso/signing.py); only the sso service may call it (deploy/broker_policy.py)."""
        try:
            return self.app.tokens.sign_for_client(claims, issuer())
        except (ValueError, AttributeError, TypeError):
            raise ValidationFailed(message="Not a client's token.", details={"claims": ["aud and iss"]}) from None

    @rpc
    def revoked_sessions(self):
        return self.app.revoked_sessions()

    @rpc
    def sessions_ended_by_reset(self):
        return self.app.sessions_ended_by_reset()

    @rpc
    def register(self, name, id_type, id_number, mobile, sms_code, client=None):
        return self.app.register(name, id_type, id_number, mobile, sms_code, client)

    @rpc
    def set_password(self, user_id, password, password_setup_token=None, current_password=None,
                     actor_user_id=None, end_other_sessions=None, session_id=None):
        self.app.set_password(user_id, password, password_setup_token=password_setup_token,
                              current_password=current_password, actor_user_id=actor_user_id,
                              end_other_sessions=end_other_sessions, session_id=session_id)

    @rpc
    def reset_password(self, mobile, sms_code, new_password, client=None):
        self.app.reset_password(mobile, sms_code, new_password, client)

    @rpc
    def login_password(self, account, password):
        return self.app.login_password(account, password)

    @rpc
    def login_sms(self, mobile, sms_code, client=None):
        return self.app.login_sms(mobile, sms_code, client)

    @rpc
    def revoke_session(self, token):
        self.app.revoke_session(token)

    # -- the person's own data (shared/API.md "Personal data") -------------------------------------
    @rpc
    def spend_export_code(self, actor_user_id, sms_code, client=None):
        self.app.spend_export_code(actor_user_id, sms_code, client)

    @rpc
    def personal_data(self, user_id):
        return self.app.personal_data(user_id)

    # -- called by every service -----------------------------------------------------------------
    @rpc
    def authenticate(self, token):
        return self.app.authenticate(token)

    @rpc
    def get_user(self, user_id):
        return self.app.get_user(user_id)

    @rpc
    def get_users(self, user_ids):
        return self.app.get_users(user_ids)

    @rpc
    def holder_matches(self, user_id, holder_name, holder_id_number):
        return self.app.holder_matches(user_id, holder_name, holder_id_number)

    @rpc
    def start_card_session(self, user_id, card_no):
        return self.app.start_card_session(user_id, card_no)

    # -- called by the card service only, once a card answered an identity challenge (实名认证) ------
    @rpc
    def claim_identity(self, card_no, holder_name, holder_id_number, name, id_type, id_number, mobile, sms_code,
                       client=None):
        return self.app.claim_identity(card_no, holder_name, holder_id_number, name, id_type, id_number, mobile,
                                       sms_code, client)

    @on_event("identity", "card")
    def on_card_event(self, envelope):
        self.app.learn(envelope)

    # -- erasure of a person's data (services/identity/erasures.py) -------------------------------
    @rpc
    def request_erasure(self, actor_user_id, sms_code, client=None):
        return self.app.request_erasure(actor_user_id, sms_code, self._peers(), erasure_services(), client)

    @rpc
    def confirm_erasure(self, erasure_id, service):
        """A service erased its copies (services/common/erasure.py); only the services call it, each for
        itself: a card that confirmed for audit would complete an erasure audit never made."""
        if not self.erasure.confirmed_by(service):
            raise Forbidden(message="A service confirms its own erasure only.", details={"service": [service]})
        return self.app.confirm_erasure(erasure_id, service)

    @on_event("identity", "identity")
    def on_own_event(self, envelope):  # UserErased: identity's own part of the saga
        self.erasure.erase(envelope, purge=self._forget_sms, confirm=self.app.confirm_erasure)

    def _forget_sms(self, user_id):
        # notify's SMS outbox knows mobiles, not people: identity names the mobile, before its key goes
        mobile = self.app.mobile_of(user_id)
        if mobile is not None and "notify" in erasure_services():
            self._peers().forget_mobile(mobile)

    # -- operators (`eport erasures list`, `eport legal-hold add|remove`) --------------------------
    @rpc
    def ops_erasures(self):
        return self.app.erasures()

    @rpc
    def ops_legal_hold(self, user_id, held, reason):
        return self.app.set_legal_hold(user_id, held, reason, by=worker_context.value(BROKER_USER))

    @on_event("identity", "sso")
    def on_sso_event(self, envelope):
        self.app.learn_logout(envelope)

"""What the card service asks other services, behind one small interface the application uses.

The application gets a `Peers` (over the worker's RPC proxies) or, in unit tests, a fake with
the same methods. Every call has a deadline: a service that does not answer is a 503.
"""
from typing import Protocol

from services.common.rpc import RPC_DEADLINE, call_with_deadline


class PeerServices(Protocol):
    def membership(self, user_id: str, enterprise_id: str) -> dict | None:
        """enterprise.membership: {association_id, role, status, uscc} of the live or last association
        (uscc: the enterprise's, which a card's certificate must carry to be bound there)."""

    def holder_matches(self, user_id: str, holder_name: str, holder_id_number: str) -> bool:
        """identity.holder_matches: is the card holder the account's registrant?"""

    def start_card_session(self, user_id: str, card_no: str) -> dict:
        """identity.start_card_session: {access_token, token_type, expires_in, user_id}."""

    def certify_card(self, user_id: str, enterprise_id: str, association_id: str, card_no: str, card_type: str,
                     uscc: str) -> dict:
        """enterprise.certify_card: a proved card was bound; {certified, role_certified}."""

    def check_admin_claim(self, user_id: str, uscc: str, name, address, business_scope) -> dict:
        """enterprise.check_admin_claim: what a claim would refuse, refused; {enterprise_id, registered}."""

    def claim_admin(self, user_id: str, uscc: str, card_no: str, name, address, business_scope) -> dict:
        """enterprise.claim_admin: {enterprise_id, association_id, role, status, role_certified,
        superseded_user_id}."""

    def claim_identity(self, card_no: str, holder_name: str, holder_id_number: str, name, id_type, id_number, mobile,
                       sms_code, client: str | None = None) -> dict:
        """identity.claim_identity: {user_id, password_setup_token, identity_verified, superseded_user_id}."""


class Peers:
    def __init__(self, identity, enterprise, timeout=RPC_DEADLINE):
        self.identity = identity
        self.enterprise = enterprise
        self.timeout = timeout

    def membership(self, user_id, enterprise_id):
        return self._call(self.enterprise.membership, user_id, enterprise_id)

    def holder_matches(self, user_id, holder_name, holder_id_number):
        return bool(self._call(self.identity.holder_matches, user_id, holder_name, holder_id_number))

    def start_card_session(self, user_id, card_no):
        return self._call(self.identity.start_card_session, user_id, card_no)

    def certify_card(self, user_id, enterprise_id, association_id, card_no, card_type, uscc):
        return self._call(self.enterprise.certify_card, user_id, enterprise_id, association_id, card_no, card_type,
                          uscc)

    def check_admin_claim(self, user_id, uscc, name, address, business_scope):
        return self._call(self.enterprise.check_admin_claim, user_id, uscc, name, address, business_scope)

    def claim_admin(self, user_id, uscc, card_no, name, address, business_scope):
        return self._call(self.enterprise.claim_admin, user_id, uscc, card_no, name, address, business_scope)

    def claim_identity(self, card_no, holder_name, holder_id_number, name, id_type, id_number, mobile, sms_code,
                       client=None):
        return self._call(self.identity.claim_identity, card_no, holder_name, holder_id_number, name, id_type,
                          id_number, mobile, sms_code, client)

    def _call(self, method, *args):
        return call_with_deadline(method, *args, deadline=self.timeout)

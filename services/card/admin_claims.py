"""Claiming the administrator role with the enterprise's legal-person card (角色认证). A mixin of
CardApplication."""
import base64

from contracts import card as contract
from contracts import validators
from contracts.validators import check_field
from services.common.commands import command

from .domain import (
    ADMIN, BIND, LEGAL_PERSON, CardBinding, CardEnterpriseMismatch, CardHolderMismatch, CardNotLegalPerson,
    Unauthenticated,
)
from .inputs import certificate_input, id_input, signature_input


class AdminClaims:
    @command(resumable=True)
    def claim_admin(self, run, peers, actor_user_id, uscc, card_no, challenge_id, certificate_pem, signature_b64,
                    name=None, address=None, business_scope=None):
        """The holder of the enterprise's legal-person card becomes its certified administrator, the
        card bound to that association: {enterprise_id, association_id, role, status, role_certified,
        superseded_user_id, card}. Every refusal is decided before anything is written, the challenge
        included (it stays usable until it expires); the enterprise service decides the claim itself
        again when it saves (a concurrent claim loses there with 409)."""
        if not actor_user_id:
            raise Unauthenticated(message="Log in first.")
        uscc = check_field("uscc", validators.uscc, uscc)
        card_no = check_field("card_no", contract.card_no, card_no)
        challenge_id = check_field("challenge_id", id_input, challenge_id)
        certificate_pem = check_field("certificate", certificate_input, certificate_pem)
        signature = check_field("signature", signature_input, signature_b64)

        challenge = self._usable_challenge(run, challenge_id, purpose=BIND, user_id=actor_user_id, card_no=card_no)
        info = self._verify_card(certificate_pem, base64.b64decode(challenge.nonce), signature, card_no)
        if info.card_type != LEGAL_PERSON:
            raise CardNotLegalPerson()
        if info.uscc != uscc:
            raise CardEnterpriseMismatch()
        if not peers.holder_matches(actor_user_id, info.holder_name, info.holder_id_number):
            raise CardHolderMismatch()
        if not run.resuming:  # a resumed claim was decided and its challenge spent before it died
            enterprise_id = peers.check_admin_claim(actor_user_id, uscc, name, address, business_scope)["enterprise_id"]
            if not self._holds(actor_user_id, enterprise_id, card_no):
                self._check_can_bind(CardBinding.create_id(actor_user_id, enterprise_id), actor_user_id,
                                     enterprise_id, card_no)
            self._spend(run, challenge)
        claim = peers.claim_admin(actor_user_id, uscc, card_no, name, address, business_scope)

        def answer(binding):
            return {k: claim[k] for k in ("enterprise_id", "association_id", "role", "status", "role_certified",
                                          "superseded_user_id")} | {"card": binding.view()}

        if self._holds(actor_user_id, claim["enterprise_id"], card_no):
            answered = answer(self._binding(actor_user_id, claim["enterprise_id"]))
            run.save(answer=answered)  # the command's answer alone: the challenge's save came first
            return answered
        return self._save_binding(run, actor_user_id, claim["enterprise_id"], card_no, info, claim["association_id"],
                                  ADMIN, answer=answer)

    def _holds(self, user_id, enterprise_id, card_no):
        """Whether the card is bound to the user's association with the enterprise already (as a member)."""
        binding = self._binding(user_id, enterprise_id)
        return binding is not None and binding.bound and binding.card_no == card_no

"""A claim of the ID number with the card (实名认证, POST /api/v1/identity-claims). A mixin of
CardApplication.

The card proves itself by answering an anonymous `identity` challenge (challenges.py: spent by the
first valid answer, whatever the claim's outcome, so a signature is never replayed); identity then
decides the claim from what the proved certificate says about its holder, and makes the account
(services/identity/claims.py). A resumable command: a death after the challenge was spent is
resumed by the retry with the same command id, and identity, asked under it, answers what it did.
"""
from contracts import card as contract
from contracts.validators import check_field
from services.common.commands import command

from .domain import IDENTITY, ChallengeInvalid
from .inputs import certificate_input, id_input, signature_input


class IdentityClaims:
    @command(resumable=True)
    def claim_identity(self, run, peers, name, id_type, id_number, mobile, sms_code, card_no, challenge_id,
                       certificate_pem, signature_b64, client=None):
        """{user_id, password_setup_token, identity_verified, superseded_user_id} of the card holder's
        new account; the person's fields are identity's to check (it answers 422 CARD_HOLDER_MISMATCH
        when the certificate does not name them). `client`: the claimant's address, for identity's count
        of wrong SMS codes (it names only what the gateway told)."""
        card_no = check_field("card_no", contract.card_no, card_no)
        challenge_id = check_field("challenge_id", id_input, challenge_id)
        certificate_pem = check_field("certificate", certificate_input, certificate_pem)
        signature = check_field("signature", signature_input, signature_b64)
        info = self._answer_login_challenge(run, challenge_id, certificate_pem, signature, purpose=IDENTITY)
        if info.card_no != card_no:
            raise ChallengeInvalid(message="The certificate is of another card than the one named.",
                                   details={"card_no": ["Not the card whose certificate is given."]})
        answer = peers.claim_identity(card_no, info.holder_name, info.holder_id_number, name, id_type, id_number,
                                      mobile, sms_code, client)
        run.save(answer=answer)  # the command's answer alone: the challenge's save came first
        return answer

"""HTTP routes of the card area (see shared/API.md): challenges, binding and unbinding a card.
Card login is `POST /api/v1/sessions` with method `card` (identity_routes.py -> card.login)."""
import time

from contracts import errors as e

from . import budgets
from .card_schemas import (
    AdminClaimRequestSchema, AdminClaimSchema, CardBindRequestSchema, CardBindingSchema, CardChallengeRequestSchema,
    CardChallengeSchema, IdentityClaimRequestSchema, IdentityClaimSchema,
)
from .routing import call, route

TAGS = ("cards",)


class CardRoutes:
    # auth=False: a login challenge is anonymous; a bind challenge authenticates inside.
    @route("POST", "/api/v1/card-challenges", summary="Ask for a nonce for the card to sign", status=201,
           auth=False, body=CardChallengeRequestSchema, response=CardChallengeSchema, tags=TAGS,
           errors=(e.UNAUTHENTICATED,), budget=budgets.CARD_CHALLENGE,
           description="`bind` needs the Bearer token of the account that will bind the card (the "
                       "challenge is bound to it); `login` is anonymous and stores nothing (its nonce "
                       "is derived from the challenge id and the card number). The challenge is valid "
                       "`expires_in` seconds (2 minutes), for this card and purpose, and once.")
    def create_card_challenge(self, request, body):
        actor_user_id = self.authenticate(request).user_id if body["purpose"] == "bind" else None
        return call(self.card.create_challenge, body["purpose"], body["card_no"], actor_user_id)

    @route("POST", "/api/v1/enterprises/{enterprise_id}/card", summary="Bind an IC card (绑定)", status=201,
           body=CardBindRequestSchema, response=CardBindingSchema, tags=TAGS,
           errors=(e.CHALLENGE_INVALID, e.CERTIFICATE_UNTRUSTED, e.CARD_SIGNATURE_INVALID, e.FORBIDDEN,
                   e.CARD_ALREADY_BOUND, e.CARD_HOLDER_MISMATCH, e.CARD_ENTERPRISE_MISMATCH,
                   e.CARD_REVOCATION_UNAVAILABLE),
           description="Binds the card to the caller's approved association with the enterprise. The card "
                       "proves itself by signing a `bind` challenge after its PIN; its holder must be the "
                       "account's registrant (else 422 提示信息不符), and it must have been issued to this "
                       "enterprise: the USCC in its certificate is the enterprise's (else 422 "
                       "CARD_ENTERPRISE_MISMATCH). 409 CARD_ALREADY_BOUND when the card is "
                       "bound to any association, or this association already has a card (unbind it "
                       "first). `warning` advises the legal-person card (法人卡) for administrators and an "
                       "operator card (操作员卡) for users; the binding is made either way. `role_certified`: "
                       "an administrator who binds the enterprise's legal-person card (法人卡) has a certified "
                       "role (角色认证) from then on; any card of the e-port CA naming the USCC certifies an "
                       "enterprise entered by hand (企业认证).")
    def bind_card(self, request, actor, body, enterprise_id):
        return call(self.card.bind, actor.user_id, enterprise_id, body["card_no"], body["challenge_id"],
                    body["certificate"], body["signature"])

    @route("POST", "/api/v1/admin-claims", summary="Claim the administrator role with the legal-person card (角色认证)",
           status=201, body=AdminClaimRequestSchema, response=AdminClaimSchema, tags=TAGS,
           errors=(e.ENTERPRISE_HAS_ADMIN, e.CARD_HOLDER_MISMATCH, e.CARD_ENTERPRISE_MISMATCH, e.CARD_NOT_LEGAL_PERSON,
                   e.CARD_ALREADY_BOUND, e.CARD_SIGNATURE_INVALID, e.CERTIFICATE_UNTRUSTED, e.CHALLENGE_INVALID,
                   e.CONFLICT, e.CARD_REVOCATION_UNAVAILABLE), budget=budgets.ADMIN_CLAIM,
           description="The holder of the enterprise's legal-person card (its certificate names the USCC, its "
                       "holder is the caller's registrant) proves it with a `bind` challenge, as for binding, and "
                       "becomes the certified administrator: the enterprise is registered if nobody has (manual "
                       "fields when the registry does not know it), the claimant's details replace the ones typed by "
                       "hand (required while the enterprise is not certified: 400 VALIDATION_ERROR naming them), an "
                       "uncertified administrator is superseded "
                       "(association removed, reason superseded; their grants revoked; both get an inbox message) "
                       "and the card is bound. 409 ENTERPRISE_HAS_ADMIN when the administrator is certified (they "
                       "hand over with PUT …/admin). A refused claim changes nothing, not even the challenge.")
    def claim_admin(self, request, actor, body):
        return 201, call(self.card.claim_admin, actor.user_id, body["uscc"], body["card_no"], body["challenge_id"],
                         body["certificate"], body["signature"], body.get("name"), body.get("address"),
                         body.get("business_scope"))

    @route("POST", "/api/v1/identity-claims", summary="Claim an ID number with its card (实名认证)", status=201,
           auth=False, body=IdentityClaimRequestSchema, response=IdentityClaimSchema, tags=TAGS,
           errors=(e.CARD_HOLDER_MISMATCH, e.ID_NUMBER_VERIFIED, e.MOBILE_TAKEN, e.SMS_CODE_INVALID,
                   e.SMS_CODE_ATTEMPTS_EXCEEDED, e.CARD_SIGNATURE_INVALID, e.CERTIFICATE_UNTRUSTED,
                   e.CHALLENGE_INVALID, e.CONFLICT), budget=budgets.REGISTRATION,
           description="The holder of a card of the e-port CA whose certificate names this name and ID number "
                       "proves it with an `identity` challenge (anonymous, spent by its first valid answer) and a "
                       "`register` SMS code of the mobile, and gets a new account (set its password with "
                       "`password_setup_token`). An unverified account that held the ID number is superseded: its "
                       "sessions end, it can no longer log in, its memberships end (reason superseded), its grants "
                       "are revoked and it gets an inbox message; the ID number belongs to the new account. 422 "
                       "CARD_HOLDER_MISMATCH (decided first) when the certificate names another person; 409 "
                       "ID_NUMBER_VERIFIED when the holding account was proved with a card already.")
    def claim_identity(self, request, body):
        claimed = call(self.card.claim_identity, body["name"], body["id_type"], body["id_number"], body["mobile"],
                       body["sms_code"], body["card_no"], body["challenge_id"], body["certificate"], body["signature"],
                       **budgets.sms_request_options(request))
        if claimed.get("superseded_user_id"):  # refused here at once; other instances by UserSuperseded
            self.sessions.end_sessions_of(claimed["superseded_user_id"], time.time() + 1)
        return 201, claimed

    @route("DELETE", "/api/v1/enterprises/{enterprise_id}/card", summary="Unbind the IC card (解除绑定)",
           status=204, errors=(e.CARD_NOT_BOUND,), tags=TAGS,
           description="Unbinds the card of the caller's own association with the enterprise; card login "
                       "with it fails from then on.")
    def unbind_card(self, request, actor, enterprise_id):
        call(self.card.unbind, actor.user_id, enterprise_id)
        return None

"""Card login: a card bound to an approved association logs its account in. A mixin of
CardApplication."""
from contracts import enterprise as ent
from contracts.validators import check_field
from services.common.commands import command

from .domain import InvalidCredentials
from .inputs import certificate_input, id_input, signature_input


class Logins:
    @command(resumable=True)
    def login(self, run, peers, challenge_id, certificate_pem, signature_b64):
        """{access_token, token_type, expires_in, user_id} of the account the card is bound to.

        401 INVALID_CREDENTIALS when the card is bound to no (still approved) association."""
        challenge_id = check_field("challenge_id", id_input, challenge_id)
        certificate_pem = check_field("certificate", certificate_input, certificate_pem)
        signature = check_field("signature", signature_input, signature_b64)
        info = self._answer_login_challenge(run, challenge_id, certificate_pem, signature)
        card_no = info.card_no

        index = self._index(card_no)
        if index is None or index.binding_id is None:
            raise InvalidCredentials(message="This card is not bound to any account (绑定IC卡后方可插卡登录).")
        index.check_pinned(info.fingerprint)
        # The removal of a member unbinds their card by event; until that event is handled, ask.
        membership = peers.membership(index.user_id, index.enterprise_id)
        if not membership or membership.get("status") != ent.APPROVED:
            raise InvalidCredentials(message="The membership this card is bound to has ended.")
        return peers.start_card_session(index.user_id, card_no)

"""Challenges of the card application, and the proof of a card that answers one. A mixin of
CardApplication.

Proof of the card: the client asks for a challenge, has the card (after its PIN) sign the nonce,
and sends the signature with the card's certificate. The certificate must chain to the trusted
CA and be valid now, carry the card number the challenge was issued for, and its key must have
signed the nonce. A challenge is spent by the first attempt that presents it validly, whatever
that attempt's outcome, so a signature can never be replayed.

Login challenges (and identity challenges, for a claim of the ID number, made alike) are asked for
anonymously, so asking must not write: a login challenge is not stored. Its id carries its expiry
and a random part, and its nonce is HMAC(key, id, card number); the login recomputes the nonce from
the id and the certificate's card number, so only the card the challenge was issued for, within its
lifetime, can answer it. The first valid answer saves a
`LoginChallengeSpent`; the next one fails on that save.
"""
import base64
import hashlib
import hmac
import secrets
from datetime import datetime, UTC

from eventsourcing.persistence import IntegrityError

from contracts import card as contract
from contracts.validators import check_field
from services.common.commands import command

from . import certs
from .domain import (
    BIND, IDENTITY, LOGIN, CardCertificateUntrusted, CardRevocationUnavailable, CardSignatureInvalid, Challenge,
    ChallengeInvalid, LoginChallengeSpent, Unauthenticated,
)
from .inputs import purpose_input
from .trust import RevocationUnavailable

NONCE_BYTES = 32
LOGIN_CHALLENGE_VERSION = "L1"  # the first part of a login challenge id: "L1.<expires ms>.<random>"
# An identity challenge (a claim of the ID number, 实名认证) is anonymous too, made the same way; its own
# first part keeps the two apart: one presented for the other is unknown there.
ANONYMOUS_CHALLENGE_VERSIONS = {LOGIN: LOGIN_CHALLENGE_VERSION, IDENTITY: "I1"}


class Challenges:
    @command
    def create_challenge(self, run, purpose, card_no, actor_user_id=None):
        purpose = check_field("purpose", purpose_input, purpose)
        card_no = check_field("card_no", contract.card_no, card_no)
        if purpose in ANONYMOUS_CHALLENGE_VERSIONS:
            return self._login_challenge(card_no, ANONYMOUS_CHALLENGE_VERSIONS[purpose])
        if not actor_user_id:
            raise Unauthenticated(message="A bind challenge is for a logged-in account: send its bearer token.")
        nonce = secrets.token_bytes(NONCE_BYTES)
        challenge = Challenge(purpose=purpose, card_no=card_no,
                              user_id=actor_user_id if purpose == BIND else None,
                              nonce=base64.b64encode(nonce).decode("ascii"),
                              expires_at=self.clock() + self.ttl)
        answer = {"challenge_id": str(challenge.id), "nonce": challenge.nonce, "expires_in": self.ttl}
        run.save(challenge, answer=answer)
        return answer

    def _login_challenge(self, card_no, version=LOGIN_CHALLENGE_VERSION):
        expires_ms = int((self.clock() + self.ttl) * 1000)
        challenge_id = f"{version}.{expires_ms}.{secrets.token_urlsafe(16)}"
        nonce = self._login_nonce(challenge_id, card_no)
        return {"challenge_id": challenge_id, "nonce": base64.b64encode(nonce).decode("ascii"), "expires_in": self.ttl}

    def _login_nonce(self, challenge_id, card_no):
        return hmac.new(self._login_key, f"{challenge_id}\x1f{card_no}".encode(), hashlib.sha256).digest()

    def _answer_login_challenge(self, run, challenge_id, certificate_pem, signature, purpose=LOGIN):
        """The certificate's card fields, once the card has signed this login challenge within its
        lifetime and the challenge is marked spent; else CHALLENGE_INVALID (unknown, expired, used),
        CERTIFICATE_UNTRUSTED or CARD_SIGNATURE_INVALID (also for another card than the challenge's)."""
        version, _, rest = challenge_id.partition(".")
        expires_ms, _, random_part = rest.partition(".")
        if version != ANONYMOUS_CHALLENGE_VERSIONS[purpose] or not expires_ms.isdigit() or not random_part:
            raise ChallengeInvalid(message=f"Unknown {purpose} challenge; ask for a new one.")
        now = self.clock()
        resumed = run.resuming  # this command spent it, in time, and died before answering
        if now * 1000 >= int(expires_ms) and not resumed:
            raise ChallengeInvalid(message="This challenge has expired; ask for a new one.")
        info = self._trusted_certificate(certificate_pem)
        if not certs.verify_signature(certificate_pem, self._login_nonce(challenge_id, info.card_no), signature):
            raise CardSignatureInvalid(message="The signature is not this card's signature of the challenge "
                                               "(a challenge is for the card it was asked for).")
        if resumed:
            return info
        try:
            run.save(LoginChallengeSpent(challenge_id=challenge_id, card_no=info.card_no, at=now))
        except IntegrityError:
            raise ChallengeInvalid(message="This challenge was already used; ask for a new one.") from None
        return info

    def _spend_challenge(self, run, challenge_id, *, purpose, user_id=None, card_no=None):
        """The challenge's (card number, nonce bytes), once it is marked used; CHALLENGE_INVALID
        for an unknown, expired, used or foreign one (which is left as it was)."""
        challenge = self._usable_challenge(run, challenge_id, purpose=purpose, user_id=user_id, card_no=card_no)
        self._spend(run, challenge)
        return challenge.card_no, base64.b64decode(challenge.nonce)

    def _usable_challenge(self, run, challenge_id, *, purpose, user_id=None, card_no=None):
        """The stored challenge, if it may answer now (nothing written); else CHALLENGE_INVALID. A
        resumed command's own challenge, which it spent before dying, is usable by it."""
        challenge = self.find(challenge_id, Challenge)
        if challenge is None:
            raise ChallengeInvalid(message="Unknown challenge; ask for a new one.")
        if not run.resuming:
            challenge.check_usable(purpose=purpose, user_id=user_id, card_no=card_no, now=self.clock())
        return challenge

    def _spend(self, run, challenge):
        if run.resuming:  # spent by this command's first run
            return
        challenge.use(at=self.clock())
        try:
            run.save(challenge)
        except IntegrityError:  # another request presented it at the same moment and won
            raise ChallengeInvalid(message="This challenge was already used; ask for a new one.") from None

    def _trusted_certificate(self, certificate_pem):
        """The certificate's card fields, once it chains to the trusted CA and is valid now."""
        try:
            info = certs.verify_chain(certificate_pem, self.trust.pem(),
                                      datetime.fromtimestamp(self.clock(), UTC))
        except certs.CertificateExpired as exc:
            raise CardCertificateUntrusted(message=f"The card certificate is not valid now: {exc}") from None
        except certs.CardCertificateError as exc:
            raise CardCertificateUntrusted(message=f"The card certificate is not trusted: {exc}") from None
        try:
            self.trust.check_fresh(datetime.fromtimestamp(self.clock(), UTC))
        except RevocationUnavailable as exc:
            raise CardRevocationUnavailable(message=f"卡片吊销列表已过期，暂不能验证IC卡: {exc}") from None
        if self.trust.is_revoked(info.serial_number):
            raise CardCertificateUntrusted(message="The card certificate has been revoked by the CA (吊销).")
        return info

    def _verify_card(self, certificate_pem, nonce, signature, card_no):
        """The certificate's card fields, once chain, validity, card number and signature hold."""
        info = self._trusted_certificate(certificate_pem)
        if info.card_no != card_no:
            raise ChallengeInvalid(message="The certificate is of another card than the challenge was issued for.",
                                   details={"certificate": ["Not the card the challenge was issued for."]})
        if not certs.verify_signature(certificate_pem, nonce, signature):
            raise CardSignatureInvalid(message="The signature is not the card's signature of the challenge.")
        return info

"""The card service's Application: challenges, binding, unbinding, card login, and the queries the
gateway needs. Commands and queries take and return simple types (str ids, dicts).

Proof of the card: the client asks for a challenge, has the card (after its PIN) sign the nonce,
and sends the signature with the card's certificate. The certificate must chain to the trusted
CA and be valid now, carry the card number the challenge was issued for, and its key must have
signed the nonce. A challenge is spent by the first attempt that presents it validly, whatever
that attempt's outcome, so a signature can never be replayed.

Login challenges are asked for anonymously, so asking must not write: a login challenge is not
stored. Its id carries its expiry and a random part, and its nonce is HMAC(key, id, card number);
the login recomputes the nonce from the id and the certificate's card number, so only the card
the challenge was issued for, within its lifetime, can answer it. The first valid answer saves a
`LoginChallengeSpent`; the next one fails on that save.

Concurrency: a binding saves the association's CardBinding and the card's CardIndex in one
transaction; a second writer that loaded the same versions fails with IntegrityError and decides
again from what is stored now (409 CARD_ALREADY_BOUND when the card was taken meanwhile).
"""
import base64
import binascii
import hashlib
import hmac
import secrets
import time
from datetime import datetime, UTC

from eventsourcing.persistence import IntegrityError

from contracts import card as contract
from contracts import enterprise as ent
from contracts import validators
from contracts.times import iso_of_epoch
from contracts.validators import check_field
from services.common.application import ServiceApplication, retry_on_conflict
from services.common.settings import secret

from . import certs
from .domain import (
    ADMIN, BIND, LEGAL_PERSON, LOGIN, BindingList, CardBinding, CardCertificateUntrusted, CardEnterpriseMismatch,
    CardHolderMismatch, CardIndex, CardNotBound, CardNotLegalPerson, CardSignatureInvalid, Challenge, ChallengeInvalid,
    InvalidCredentials, LoginChallengeSpent, Unauthenticated, card_type_warning, check_approved_member,
)
from .trust import TrustAnchor, challenge_ttl

CONSUMER = "card"
NONCE_BYTES = 32
MAX_ID_INPUT = 128
MAX_CERTIFICATE_INPUT = 16384
MAX_SIGNATURE_INPUT = 4096
MAX_SIGNATURE_BYTES = 512
LOGIN_CHALLENGE_VERSION = "L1"  # the first part of a login challenge id: "L1.<expires ms>.<random>"


_purpose = validators.one_of(contract.CHALLENGE_PURPOSES)
_id_input = validators.text(MAX_ID_INPUT)


def _certificate(value):
    pem = validators.text(MAX_CERTIFICATE_INPUT)(value)
    try:
        certs.load_certificate(pem)
    except certs.CertificateMalformed:
        raise ValueError("Not a PEM X.509 certificate.") from None
    return pem


def _signature(value):
    text = validators.text(MAX_SIGNATURE_INPUT)(value)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("Not base64.") from None
    if not 0 < len(raw) <= MAX_SIGNATURE_BYTES:
        raise ValueError(f"A card signature has 1 to {MAX_SIGNATURE_BYTES} bytes.")
    return raw


class CardApplication(ServiceApplication):
    service_name = "card"
    snapshotting_intervals = {CardIndex: 20, CardBinding: 20, BindingList: 50}

    def __init__(self, env=None, *, clock=time.time, trust=None, ttl=None):
        super().__init__(env)
        self.clock = clock
        self.trust = trust if trust is not None else TrustAnchor.from_env()
        self.ttl = ttl if ttl is not None else challenge_ttl()
        # Its own key, derived from the index key: no new secret to distribute.
        self._login_key = hmac.new(secret("EPORT_INDEX_KEY").encode(), b"card login challenges",
                                   hashlib.sha256).digest()

    # -- loading ----------------------------------------------------------------------------
    def _binding(self, user_id, enterprise_id):
        return self.find(CardBinding.create_id(user_id, enterprise_id), CardBinding)

    def _index(self, card_no):
        return self.find(CardIndex.create_id(card_no), CardIndex)

    def _list(self, key):
        return self.find(BindingList.create_id(key), BindingList) or BindingList(key=key)

    # -- challenges -------------------------------------------------------------------------
    def create_challenge(self, purpose, card_no, actor_user_id=None):
        purpose = check_field("purpose", _purpose, purpose)
        card_no = check_field("card_no", contract.card_no, card_no)
        if purpose == LOGIN:
            return self._login_challenge(card_no)
        if not actor_user_id:
            raise Unauthenticated(message="A bind challenge is for a logged-in account: send its bearer token.")
        nonce = secrets.token_bytes(NONCE_BYTES)
        challenge = Challenge(purpose=purpose, card_no=card_no,
                              user_id=actor_user_id if purpose == BIND else None,
                              nonce=base64.b64encode(nonce).decode("ascii"),
                              expires_at=self.clock() + self.ttl)
        self.save(challenge)
        return {"challenge_id": str(challenge.id), "nonce": challenge.nonce, "expires_in": self.ttl}

    def _login_challenge(self, card_no):
        expires_ms = int((self.clock() + self.ttl) * 1000)
        challenge_id = f"{LOGIN_CHALLENGE_VERSION}.{expires_ms}.{secrets.token_urlsafe(16)}"
        nonce = self._login_nonce(challenge_id, card_no)
        return {"challenge_id": challenge_id, "nonce": base64.b64encode(nonce).decode("ascii"), "expires_in": self.ttl}

    def _login_nonce(self, challenge_id, card_no):
        return hmac.new(self._login_key, f"{challenge_id}\x1f{card_no}".encode(), hashlib.sha256).digest()

    def _answer_login_challenge(self, challenge_id, certificate_pem, signature):
        """The certificate's card fields, once the card has signed this login challenge within its
        lifetime and the challenge is marked spent; else CHALLENGE_INVALID (unknown, expired, used),
        CERTIFICATE_UNTRUSTED or CARD_SIGNATURE_INVALID (also for another card than the challenge's)."""
        version, _, rest = challenge_id.partition(".")
        expires_ms, _, random_part = rest.partition(".")
        if version != LOGIN_CHALLENGE_VERSION or not expires_ms.isdigit() or not random_part:
            raise ChallengeInvalid(message="Unknown login challenge; ask for a new one.")
        now = self.clock()
        if now * 1000 >= int(expires_ms):
            raise ChallengeInvalid(message="This challenge has expired; ask for a new one.")
        info = self._trusted_certificate(certificate_pem)
        if not certs.verify_signature(certificate_pem, self._login_nonce(challenge_id, info.card_no), signature):
            raise CardSignatureInvalid(message="The signature is not this card's signature of the challenge "
                                               "(a challenge is for the card it was asked for).")
        try:
            self.save(LoginChallengeSpent(challenge_id=challenge_id, card_no=info.card_no, at=now))
        except IntegrityError:
            raise ChallengeInvalid(message="This challenge was already used; ask for a new one.") from None
        return info

    def _spend_challenge(self, challenge_id, *, purpose, user_id=None, card_no=None):
        """The challenge's (card number, nonce bytes), once it is marked used; CHALLENGE_INVALID
        for an unknown, expired, used or foreign one (which is left as it was)."""
        challenge = self._usable_challenge(challenge_id, purpose=purpose, user_id=user_id, card_no=card_no)
        self._spend(challenge)
        return challenge.card_no, base64.b64decode(challenge.nonce)

    def _usable_challenge(self, challenge_id, *, purpose, user_id=None, card_no=None):
        """The stored challenge, if it may answer now (nothing written); else CHALLENGE_INVALID."""
        challenge = self.find(challenge_id, Challenge)
        if challenge is None:
            raise ChallengeInvalid(message="Unknown challenge; ask for a new one.")
        challenge.check_usable(purpose=purpose, user_id=user_id, card_no=card_no, now=self.clock())
        return challenge

    def _spend(self, challenge):
        challenge.use(at=self.clock())
        try:
            self.save(challenge)
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

    # -- binding ------------------------------------------------------------------------------
    def bind(self, peers, actor_user_id, enterprise_id, card_no, challenge_id, certificate_pem, signature_b64):
        """Bind the card to the actor's association with the enterprise: {card_no, card_type,
        bound_at, warning}. The card must be free, issued to this enterprise (the USCC in its
        certificate) and held by the account's registrant. `peers` answers membership and
        holder_matches (peers.py)."""
        if not actor_user_id:
            raise Unauthenticated(message="Log in first.")
        enterprise_id = check_field("enterprise_id", _id_input, enterprise_id)
        card_no = check_field("card_no", contract.card_no, card_no)
        challenge_id = check_field("challenge_id", _id_input, challenge_id)
        certificate_pem = check_field("certificate", _certificate, certificate_pem)
        signature = check_field("signature", _signature, signature_b64)

        membership = peers.membership(actor_user_id, enterprise_id)
        check_approved_member(membership)
        _, nonce = self._spend_challenge(challenge_id, purpose=BIND, user_id=actor_user_id, card_no=card_no)
        info = self._verify_card(certificate_pem, nonce, signature, card_no)

        # Taken already? Said before the holder check: nobody else can bind it until it is unbound.
        binding_id = CardBinding.create_id(actor_user_id, enterprise_id)
        self._check_can_bind(binding_id, actor_user_id, enterprise_id, card_no)
        if info.uscc != membership.get("uscc"):  # a card acts for the enterprise it was issued to
            raise CardEnterpriseMismatch()
        if not peers.holder_matches(actor_user_id, info.holder_name, info.holder_id_number):
            raise CardHolderMismatch()
        # Certified before the binding is saved: the card has proved itself either way, and an
        # enterprise service that does not answer then leaves nothing half done (503, bind again).
        certified = peers.certify_card(actor_user_id, enterprise_id, membership["association_id"], card_no,
                                       info.card_type, info.uscc)
        binding = self._save_binding(actor_user_id, enterprise_id, card_no, info, membership["association_id"],
                                     membership["role"])
        return dict(binding.view(), warning=card_type_warning(membership["role"], info.card_type),
                    role_certified=bool(certified.get("role_certified")))

    def _save_binding(self, user_id, enterprise_id, card_no, info, association_id, role):
        """Bind the card (`info`: its certificate's fields) to the association, unless it was taken."""
        def attempt():
            binding = self._binding(user_id, enterprise_id) or CardBinding(user_id=user_id, enterprise_id=enterprise_id)
            index = self._index(card_no) or CardIndex(card_no=card_no)
            index.check_free_for(binding.id)
            binding.bind(card_no=card_no, card_type=info.card_type, association_id=association_id, role=role,
                         bound_at=iso_of_epoch(self.clock()), by_user_id=user_id, uscc=info.uscc)
            index.claim(binding_id=binding.id, user_id=user_id, enterprise_id=enterprise_id,
                        cert_sha256=info.fingerprint)
            by_user = self._list(f"user:{user_id}")
            by_user.add_once(enterprise_id)
            by_enterprise = self._list(f"enterprise:{enterprise_id}")
            by_enterprise.add_once(user_id)
            self.save(binding, index, by_user, by_enterprise)
            return binding

        return retry_on_conflict(attempt)

    # -- claiming the administrator role (角色认证) ------------------------------------------------
    def claim_admin(self, peers, actor_user_id, uscc, card_no, challenge_id, certificate_pem, signature_b64,
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
        challenge_id = check_field("challenge_id", _id_input, challenge_id)
        certificate_pem = check_field("certificate", _certificate, certificate_pem)
        signature = check_field("signature", _signature, signature_b64)

        challenge = self._usable_challenge(challenge_id, purpose=BIND, user_id=actor_user_id, card_no=card_no)
        info = self._verify_card(certificate_pem, base64.b64decode(challenge.nonce), signature, card_no)
        if info.card_type != LEGAL_PERSON:
            raise CardNotLegalPerson()
        if info.uscc != uscc:
            raise CardEnterpriseMismatch()
        if not peers.holder_matches(actor_user_id, info.holder_name, info.holder_id_number):
            raise CardHolderMismatch()
        enterprise_id = peers.check_admin_claim(actor_user_id, uscc, name, address, business_scope)["enterprise_id"]
        binding = self._binding(actor_user_id, enterprise_id)
        holds_it = binding is not None and binding.card_no == card_no  # bound already, as a member
        if not holds_it:
            self._check_can_bind(CardBinding.create_id(actor_user_id, enterprise_id), actor_user_id, enterprise_id,
                                 card_no)

        self._spend(challenge)
        claim = peers.claim_admin(actor_user_id, uscc, card_no, name, address, business_scope)
        if not holds_it:
            binding = self._save_binding(actor_user_id, claim["enterprise_id"], card_no, info,
                                         claim["association_id"], ADMIN)
        return {k: claim[k] for k in ("enterprise_id", "association_id", "role", "status", "role_certified",
                                      "superseded_user_id")} | {"card": binding.view()}

    def _check_can_bind(self, binding_id, user_id, enterprise_id, card_no):
        index = self._index(card_no)
        if index is not None:
            index.check_free_for(binding_id)
        binding = self._binding(user_id, enterprise_id)
        if binding is not None:
            binding.check_free()

    def unbind(self, actor_user_id, enterprise_id):
        """解除绑定: the actor's own association loses its card; 404 CARD_NOT_BOUND when it has none."""
        if not actor_user_id:
            raise Unauthenticated(message="Log in first.")
        enterprise_id = check_field("enterprise_id", _id_input, enterprise_id)

        def attempt():
            binding = self._binding(actor_user_id, enterprise_id)
            if binding is None:
                raise CardNotBound(message="No card is bound to this enterprise association.")
            aggregates = self._unbind(binding, reason="unbound", by_user_id=actor_user_id)
            self.save(*aggregates)

        retry_on_conflict(attempt)

    def _unbind(self, binding, *, reason, by_user_id):
        index = self._index(binding.card_no) if binding.bound else None
        binding.unbind(reason=reason, by_user_id=by_user_id)
        if index is None:
            return [binding]
        index.release_from(binding.id)
        return [binding, index]

    # -- card login ---------------------------------------------------------------------------
    def login(self, peers, challenge_id, certificate_pem, signature_b64):
        """{access_token, token_type, expires_in, user_id} of the account the card is bound to.

        401 INVALID_CREDENTIALS when the card is bound to no (still approved) association."""
        challenge_id = check_field("challenge_id", _id_input, challenge_id)
        certificate_pem = check_field("certificate", _certificate, certificate_pem)
        signature = check_field("signature", _signature, signature_b64)
        info = self._answer_login_challenge(challenge_id, certificate_pem, signature)
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

    # -- events of other services -------------------------------------------------------------
    def learn(self, envelope):
        """Apply one enterprise event (MemberRemoved unbinds the member's card); False when it was a
        repeat or changed nothing."""
        if envelope.get("source") != ent.SOURCE or envelope.get("event_type") != ent.MEMBER_REMOVED.name:
            return False

        def effect(p):
            binding = self._binding(p["user_id"], p["enterprise_id"])
            # Only the card of the association that ended: after a new association the member may
            # have bound a card again, which a late or repeated old event must not touch.
            if binding is None or not binding.bound or binding.association_id != p["association_id"]:
                return []
            return self._unbind(binding, reason="membership_ended", by_user_id=envelope.get("actor_user_id"))

        return self.consume(CONSUMER, envelope, ent.MemberRemovedPayload, effect)

    # -- queries ------------------------------------------------------------------------------
    def cards_of_user(self, user_id):
        """{enterprise_id: {card_no, card_type, bound_at}} of the user's bound cards."""
        found = {}
        for enterprise_id in self._list(f"user:{user_id}").items:
            binding = self._binding(user_id, enterprise_id)
            if binding is not None and binding.bound:
                found[enterprise_id] = binding.view()
        return found

    def cards_of_enterprise(self, enterprise_id):
        """{user_id: {card_no, card_type, bound_at}} of the enterprise's bound cards."""
        found = {}
        for user_id in self._list(f"enterprise:{enterprise_id}").items:
            binding = self._binding(user_id, enterprise_id)
            if binding is not None and binding.bound:
                found[user_id] = binding.view()
        return found

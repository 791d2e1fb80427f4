"""Card challenges, card bindings and the indexes that keep their rules under concurrency.
No I/O here: the application loads and saves.

- `Challenge` (random id): a bind challenge, one nonce the card must sign; single use,
  short-lived, bound to a card number and the logged-in user who asked for it.
- Login challenges are anonymous, so they are not stored: their nonce is an HMAC of the challenge
  id (which carries its expiry) and the card number (application.py). `LoginChallengeSpent` (id
  from the challenge id) marks one spent, once a card has signed it: only a card writes.
- `CardBinding` (id from user and enterprise): the card bound to one association, if any. One
  aggregate per association, so "one card per association" is its own invariant.
- `CardIndex` (id from the card number's keyed digest): which association the card is bound to. Saved
  in the same transaction as the binding, so two binds of one card never both succeed. Stores written
  before keyed ids hold indexes under the legacy id, uuid5 of the plain number (anyone could confirm a
  number from it): the application moves each to its keyed id (`moved_from`) and deletes the old one
  (application.py, docs/PERSONAL_DATA.md).
- `BindingList` (id from "user:<id>" or "enterprise:<id>"): the associations that ever had a
  card, for the queries by user and by enterprise. Only grows; the bindings say what is bound.
"""
import hmac
import uuid

from eventsourcing.domain import Aggregate, event

from contracts import errors as e
from contracts.card import CARD_TYPES
from contracts.enterprise import ADMIN, APPROVED, USER  # noqa: F401 (roles and status of memberships)
from contracts.errors import DomainError, Forbidden, InvalidCredentials, Unauthenticated  # noqa: F401 (shared)
from services.common.aggregates import KeyedList
from services.common.digests import Digests
from services.common.sealing import ORIGINATOR, OWNER, PersonalData
from services.common.settings import secret

BINDING_NAMESPACE = uuid.UUID("5d0a4f7e-3c21-4b8e-9f6a-7e2b1c9d4a30")
CARD_INDEX_NAMESPACE = uuid.UUID("a7c3e9b1-58d2-4f06-b4e1-0c9f2d6a8e57")  # legacy ids: of the plain number
KEYED_CARD_INDEX_NAMESPACE = uuid.UUID("c41e8f27-6b3a-4d95-a0f2-9e7d15b3c868")  # of its keyed digest
LIST_NAMESPACE = uuid.UUID("2e8b6c14-9a7f-4d35-8c0e-f1a5b3d7c962")
LOGIN_CHALLENGE_NAMESPACE = uuid.UUID("8f1d2b6e-4c7a-4e59-a3d0-6b9e1f7c2a84")

BIND, LOGIN, IDENTITY = "bind", "login", "identity"  # IDENTITY: a claim of the ID number (实名认证)
LEGAL_PERSON, OPERATOR = CARD_TYPES

# The manual: 建议企业管理员账号请绑定企业的法人卡, 企业用户账号请绑定企业的操作员卡.
RECOMMENDED_CARD_TYPE = {ADMIN: LEGAL_PERSON, USER: OPERATOR}
CARD_TYPE_WARNINGS = {
    (ADMIN, OPERATOR): "建议企业管理员账号绑定企业的法人卡（当前绑定的是操作员卡）。",
    (USER, LEGAL_PERSON): "建议企业用户账号绑定企业的操作员卡（当前绑定的是法人卡）。",
}
HOLDER_MISMATCH_MESSAGE = "提示信息不符: 绑定的IC卡持卡人信息与当前登录账号注册信息不一致"


# -- domain errors ------------------------------------------------------------------------------
class ChallengeInvalid(DomainError):
    code = e.CHALLENGE_INVALID


class CardCertificateUntrusted(DomainError):
    """The card service's answer (400 CERTIFICATE_UNTRUSTED); certs.CertificateUntrusted is the check's."""
    code = e.CERTIFICATE_UNTRUSTED


class CardSignatureInvalid(DomainError):
    code = e.CARD_SIGNATURE_INVALID


class CardHolderMismatch(DomainError):
    code = e.CARD_HOLDER_MISMATCH
    default_message = HOLDER_MISMATCH_MESSAGE
    default_details = {"card": ["请插入与当前登录账号信息一致的电子口岸IC卡。"]}


class CardAlreadyBound(DomainError):
    code = e.CARD_ALREADY_BOUND


class CardEnterpriseMismatch(DomainError):
    """The card was issued to another enterprise (its certificate's USCC is not the enterprise's)."""
    code = e.CARD_ENTERPRISE_MISMATCH
    default_message = "绑卡失败，卡片所属企业与关联企业不符。"
    default_details = {"card": ["请插入本企业的电子口岸IC卡 (the card's USCC is not this enterprise's)."]}


class CardNotLegalPerson(DomainError):
    """Only the enterprise's legal-person card (法人卡) claims its administrator role."""
    code = e.CARD_NOT_LEGAL_PERSON
    default_message = "认领企业管理员角色需使用本企业的法人卡 (an operator card cannot claim the role)."
    default_details = {"card": ["请插入本企业的法人卡 (the card is not a legal-person card)."]}


class CardNotBound(DomainError):
    code = e.CARD_NOT_BOUND


class CardRevocationUnavailable(DomainError):
    """503: the CA's revocation list in force is out of date, so no card is taken on trust (fails closed)."""
    code = e.CARD_REVOCATION_UNAVAILABLE


def card_type_warning(role, card_type):
    """The manual's advice when the card type does not suit the member's role, else None."""
    return CARD_TYPE_WARNINGS.get((role, card_type))


def check_approved_member(membership):
    """`membership` is enterprise.membership(...): {association_id, role, status, uscc} or None."""
    if not membership or membership.get("status") != APPROVED:
        raise Forbidden(message="Only approved members of this enterprise may bind a card to it.")


# -- aggregates -----------------------------------------------------------------------------------
def card_subject(state, _originator_id=None):
    """Whose a card's number is where no account is named (a card index, a spent login challenge): the
    card's own subject, its CardIndex id, whose key erasure destroys with its holder's
    (docs/PERSONAL_DATA.md)."""
    return CardIndex.create_id(state["card_no"])


class Challenge(PersonalData, Aggregate):
    """`nonce` is base64 text; `expires_at` seconds since the epoch (the application's clock)."""
    personal_events = {"Issued": {"card_no": OWNER}}

    @event("Issued")
    def __init__(self, *, purpose, card_no, user_id, nonce, expires_at):
        self.purpose = purpose
        self.card_no = card_no
        self.user_id = user_id
        self.nonce = nonce
        self.expires_at = expires_at
        self.used = False

    def check_usable(self, *, purpose, now, user_id=None, card_no=None):
        """Unused, unexpired, and issued for this purpose (and user and card when they are given)."""
        if self.used:
            raise ChallengeInvalid(message="This challenge was already used; ask for a new one.")
        if now >= self.expires_at:
            raise ChallengeInvalid(message="This challenge has expired; ask for a new one.")
        if purpose != self.purpose:
            raise ChallengeInvalid(message=f"This challenge was issued for {self.purpose}, not {purpose}.")
        if purpose == BIND and user_id != self.user_id:
            raise ChallengeInvalid(message="This challenge was issued to another account.")
        if card_no is not None and card_no != self.card_no:
            raise ChallengeInvalid(message="This challenge was issued for another card.",
                                   details={"card_no": ["Not the card the challenge was issued for."]})

    @event("Used")
    def use(self, at):
        self.used = True


class LoginChallengeSpent(PersonalData, Aggregate):
    """A login challenge answered by a card. Its deterministic id makes a second use of the same
    challenge, even at the same moment, fail on save."""
    personal_events = {"Spent": {"card_no": card_subject}}

    @staticmethod
    def create_id(challenge_id):
        return uuid.uuid5(LOGIN_CHALLENGE_NAMESPACE, challenge_id)

    @event("Spent")
    def __init__(self, *, challenge_id, card_no, at):
        self.challenge_id = challenge_id
        self.card_no = card_no
        self.at = at


class CardBinding(PersonalData, Aggregate):
    personal_events = {"Bound": {"card_no": OWNER, "serial_number": OWNER}, "Unbound": {"card_no": OWNER}}

    @staticmethod
    def create_id(user_id, enterprise_id):
        return uuid.uuid5(BINDING_NAMESPACE, f"{user_id}\x1f{enterprise_id}")

    @event("Opened")
    def __init__(self, *, user_id, enterprise_id):
        self.user_id = user_id
        self.enterprise_id = enterprise_id
        self.card_no = None
        self.card_type = None
        self.bound_at = None
        self.association_id = None
        self.serial_number = None

    @property
    def bound(self):
        return self.card_no is not None

    def check_free(self):
        if self.bound:
            raise CardAlreadyBound(
                message=f"A card ({self.card_no}) is already bound to this enterprise association; "
                        "unbind it first (解除绑定).",
                details={"enterprise_id": ["This association already has a bound card."]})

    def check_bound(self):
        if not self.bound:
            raise CardNotBound(message="No card is bound to this enterprise association.")

    def bind(self, *, card_no, card_type, association_id, role, bound_at, by_user_id, uscc, serial_number=None,
             not_after=None):
        self.check_free()
        if card_type not in CARD_TYPES:
            raise ValueError(f"unknown card type {card_type!r}")
        self._bound(user_id=self.user_id, enterprise_id=self.enterprise_id, card_no=card_no,
                    card_type=card_type, association_id=association_id, role=role, bound_at=bound_at,
                    by_user_id=by_user_id, uscc=uscc, serial_number=serial_number, not_after=not_after)

    class Bound(Aggregate.Event):
        """v2 adds `uscc`, the enterprise the certificate names (角色认证 is learnt from it); v3 the
        certificate's `serial_number` (hex) and `not_after` (ISO 8601), which the card's later
        revocation or expiry is checked against (validity.py). A binding stored before has none."""
        class_version = 3
        user_id: str
        enterprise_id: str
        card_no: str
        card_type: str
        association_id: str
        role: str
        bound_at: str
        by_user_id: str
        uscc: str
        serial_number: str
        not_after: str

        @staticmethod
        def upcast_v1_v2(state):
            state["uscc"] = None

        @staticmethod
        def upcast_v2_v3(state):
            state["serial_number"] = None
            state["not_after"] = None

    @event(Bound)
    def _bound(self, *, user_id, enterprise_id, card_no, card_type, association_id, role, bound_at, by_user_id,
               uscc, serial_number, not_after):
        self.card_no = card_no
        self.card_type = card_type
        self.association_id = association_id
        self.bound_at = bound_at
        self.serial_number = serial_number  # the certificate bound (hex); None for a binding stored before v3

    def unbind(self, *, reason, by_user_id):
        self.check_bound()
        self._unbound(user_id=self.user_id, enterprise_id=self.enterprise_id, card_no=self.card_no,
                      card_type=self.card_type, reason=reason, by_user_id=by_user_id)

    @event("Unbound")
    def _unbound(self, *, user_id, enterprise_id, card_no, card_type, reason, by_user_id):
        self.serial_number = None
        self.card_no = None
        self.card_type = None
        self.association_id = None
        self.bound_at = None

    def view(self):
        return {"card_no": self.card_no, "card_type": self.card_type, "bound_at": self.bound_at}


class CardIndex(PersonalData, Aggregate):
    """The card's number is sealed with the card's own key (its subject: this id, `card_subject`; the index
    outlives its bindings), each claim's pinned certificate digest with the claimant's key: an erasure of
    the claimant destroys both, and the card's next holder claims it under a key of their own."""
    personal_owner = ORIGINATOR
    personal_events = {"Registered": {"card_no": OWNER}, "Claimed": {"cert_sha256": "user_id"},
                       "MovedIn": {"cert_sha256": "user_id"}}
    personal_state = {"cert_sha256": "user_id"}

    @staticmethod
    def create_id(card_no):
        """uuid5 of the card number's HMAC keyed with EPORT_INDEX_KEY: without that key the id tells
        nothing of the number, however few card numbers there are."""
        return uuid.uuid5(KEYED_CARD_INDEX_NAMESPACE, Digests(secret("EPORT_INDEX_KEY")).card_no(card_no))

    @staticmethod
    def legacy_id(card_no):
        """The id of the card's index in a store written before keyed ids: read only, to move it."""
        return uuid.uuid5(CARD_INDEX_NAMESPACE, card_no)

    @event("Registered")
    def __init__(self, *, card_no):
        self.card_no = card_no
        self.binding_id = None
        self.user_id = None
        self.enterprise_id = None
        self.cert_sha256 = None
        self.moved = False

    @classmethod
    def moved_from(cls, legacy):
        """The index under the keyed id holding what the legacy index `legacy` holds (its claim, if
        any; `MovedIn` records the move), and `legacy` marked `Moved`: both to be saved together, so
        that a second mover, or a binder of the legacy index, conflicts."""
        index = cls(card_no=legacy.card_no)
        index._moved_in(binding_id=legacy.binding_id, user_id=legacy.user_id, enterprise_id=legacy.enterprise_id,
                        cert_sha256=getattr(legacy, "cert_sha256", None))
        legacy._moved()
        return index

    @event("MovedIn")
    def _moved_in(self, *, binding_id, user_id, enterprise_id, cert_sha256):
        self.binding_id = binding_id
        self.user_id = user_id
        self.enterprise_id = enterprise_id
        self.cert_sha256 = cert_sha256

    @event("Moved")
    def _moved(self):
        """A legacy index, once its claim is under the keyed id: read as absent, then deleted."""
        self.moved = True

    def check_free_for(self, binding_id):
        if self.binding_id is not None:
            same = self.binding_id == str(binding_id)
            raise CardAlreadyBound(
                message="This card is already bound to this enterprise association." if same else
                        "This card is already bound to an account; it must be unbound there first.",
                details={"card_no": ["Already bound."]})

    @event("Claimed")
    def claim(self, *, binding_id, user_id, enterprise_id, cert_sha256=None):
        self.binding_id = str(binding_id)
        self.user_id = user_id
        self.enterprise_id = enterprise_id
        self.cert_sha256 = cert_sha256  # the certificate bound: the only one that logs in

    def check_pinned(self, cert_sha256):
        """Card login: only with the very certificate the card was bound with. Another one naming the
        same card number (another key) is not this card; a binding from before pinning binds again."""
        pinned = getattr(self, "cert_sha256", None)
        if pinned is None or not hmac.compare_digest(pinned, cert_sha256):
            raise InvalidCredentials(message="This is not the certificate the card was bound with; "
                                             "bind the card again (重新绑定IC卡).")

    def release_from(self, binding_id):
        if self.binding_id == str(binding_id):
            self._released()

    @event("Released")
    def _released(self):
        self.binding_id = None
        self.user_id = None
        self.enterprise_id = None
        self.cert_sha256 = None


class BindingList(KeyedList):
    """The enterprises of a user (`user:<id>`) or the users of an enterprise (`enterprise:<id>`)
    that ever had a card binding."""
    namespace = LIST_NAMESPACE

"""实名认证 of the identity application: an account's holder proves the ID number with a card of the
e-port CA, by binding one (the card service's CardBound) or by a claim. A mixin of IdentityApplication
(what it needs of it: ClaimsHost).

A claim (`claim_identity`, asked only by the card service once the card answered an `identity`
challenge: deploy/broker_policy.py) makes an account for the card's holder. An unverified account
that held the ID number is superseded in the same transaction as the new account is saved and the
ID number's index moves to it: its sessions end, it can no longer log in (`_user_by` finds no one,
`session_ended` is always true), and its UserSuperseded tells enterprise, authz, notify and the
gateways. Two claims, or a claim and a registration, of one ID number write the same index: the
second fails on its version and decides again (409 ID_NUMBER_VERIFIED once the first has won).
"""
import secrets
from typing import Protocol

from contracts import card as card_contract
from contracts import errors as e
from contracts import validators
from contracts.validators import check_field, check_fields
from services.common.application import retry_on_conflict
from services.common.commands import command

from .collaborators import Core, SmsCodeChecks
from .domain import ACCOUNT_BUSY, DomainError, IdNumberIndex, MobileIndex, MobileTaken, User
from .inputs import id_type_input, normalised_name, sms_code_input

CONSUMER = "identity"
HOLDER_MISMATCH_MESSAGE = "认领失败，信息不符: the card's holder is not the person named in the claim."


class CardHolderMismatch(DomainError):
    code = e.CARD_HOLDER_MISMATCH


class IdNumberVerified(DomainError):
    code = e.ID_NUMBER_VERIFIED


def claim_values(name, id_type, id_number, mobile, sms_code):
    return check_fields({"name": (validators.person_name, name), "id_type": (id_type_input, id_type),
                         "id_number": (validators.resident_id, id_number),
                         "mobile": (validators.mobile, mobile), "sms_code": (sms_code_input, sms_code)})


def names_holder(values, holder_name, holder_id_number):
    """Whether the card's certificate names the claimed person: ID number and normalised name."""
    try:
        holder_id = validators.resident_id(holder_id_number)
    except (ValueError, TypeError):
        return False
    return (holder_id == values["id_number"] and isinstance(holder_name, str)
            and normalised_name(holder_name) == normalised_name(values["name"]))


def superseded_sessions(supersessions):
    """[{user_id, ended_at}] for a gateway starting up (sessions.py): every session of a superseded
    account has ended, and it gets no new one (logins.py), so the mark may lie a second past the
    supersession: whatever the clocks of the instances that issued its tokens said."""
    return [{"user_id": str(s.originator_id), "ended_at": s.at + 1} for s in supersessions]


class ClaimsHost(Core, Protocol):
    """What IdentityClaims needs of the application it is mixed into (tests/unit/test_identity_mixins.py)."""
    sms_checks: SmsCodeChecks

    def consume(self, consumer, envelope, schema, effect): ...


class IdentityClaims:
    @command
    def claim_identity(self, run, card_no, holder_name, holder_id_number, name, id_type, id_number, mobile, sms_code,
                       client=None):
        """{user_id, password_setup_token, identity_verified, superseded_user_id}: a new account of the
        card's holder (`holder_*`: what the proved certificate says). 422 CARD_HOLDER_MISMATCH first;
        then the register SMS code (spent by every later answer, as in registration); 409
        ID_NUMBER_VERIFIED when the holding account proved it already; 409 MOBILE_TAKEN when another
        account than the superseded one holds the mobile (the superseded one's moves with the ID).
        `client`: the claimant's address, from the gateway through card: its wrong codes block it alone."""
        card_no = check_field("card_no", card_contract.card_no, card_no)
        values = claim_values(name, id_type, id_number, mobile, sms_code)
        if not names_holder(values, holder_name, holder_id_number):
            raise CardHolderMismatch(message=HOLDER_MISMATCH_MESSAGE,
                                     details={"card": ["请插入证件号码与姓名均为本人的电子口岸IC卡。"]})
        id_digest = self.digests.id_number(values["id_number"])
        mobile_digest, client = self.digests.mobile(values["mobile"]), self.sms_checks.client_key(client)

        def attempt():
            now = self.clock()
            box = self.sms_checks.spend_register_code(run, mobile_digest, values["sms_code"], now, client)
            return self._claim(run, values, card_no, id_digest, mobile_digest, box, now)

        return retry_on_conflict(attempt, message=ACCOUNT_BUSY)

    def _claim(self, run, values, card_no, id_digest, mobile_digest, box, now):
        id_index = self.find(IdNumberIndex.create_id(id_digest), IdNumberIndex)
        holder = self._user(id_index.user_id) if id_index is not None else None
        if holder is not None and holder.identity_verified:
            run.refuse(IdNumberVerified(message="This ID number's account was proved with its card already "
                                                 "(已实名认证): log in to it, or reset its password by SMS.",
                                         details={"id_number": ["已实名认证"]}), box)
        mobile_index = self.find(MobileIndex.create_id(mobile_digest), MobileIndex)
        held = mobile_index is not None and mobile_index.user_id is not None  # an erasure releases it
        if held and (holder is None or mobile_index.user_id != str(holder.id)):
            run.refuse(MobileTaken(message="This mobile number is already registered."), box)
        token = secrets.token_urlsafe(32)
        user = User(name=values["name"], id_type=values["id_type"], id_number=values["id_number"],
                    mobile=values["mobile"], setup_token_digest=self.digests.setup_token(token),
                    setup_token_expires_at=now + self.limits.setup_token_ttl, registered_at=now)
        user_id = str(user.id)
        user.verify_identity(via="claim", card_no=card_no, at=now)
        changed = [user, box, *self._moved(id_index, IdNumberIndex, id_digest, user_id),
                   *self._moved(mobile_index, MobileIndex, mobile_digest, user_id)]
        if holder is not None:
            holder.supersede(by_user_id=user_id, at=now)
            changed.append(holder)
        answer = {"user_id": user_id, "password_setup_token": token, "identity_verified": True,
                  "superseded_user_id": str(holder.id) if holder is not None else None}
        run.save(*changed, answer=answer)
        return answer

    @staticmethod
    def _moved(index, index_cls, digest, user_id):
        if index is None:
            return [index_cls(digest=digest, user_id=user_id)]
        index.move_to(user_id)
        return [index]

    def learn(self, envelope):
        """A CardBound of the card service: the card's holder is the account's registrant (binding
        checks it), so the account is verified. Replaying the card history to identity.card-events
        verifies the accounts that bound a card before this existed. False for a repeat or no change."""
        bound = card_contract.CARD_BOUND
        if envelope.get("source") != bound.source or envelope.get("event_type") != bound.name:
            return False

        def effect(p):
            user = self._user(p["user_id"])
            if user is None or user.identity_verified or user.superseded:
                return []
            user.verify_identity(via="card", card_no=p["card_no"], at=self.clock())
            return [user]

        return self.consume(CONSUMER, envelope, card_contract.CardBoundPayload, effect)

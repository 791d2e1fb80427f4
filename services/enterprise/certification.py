"""Role certification (角色认证) of the enterprise application, asked by the card service once a
card has proved itself: certifying a card's enterprise and its administrator's role, the replay of
card bindings, the end of a certification whose legal-person card was unbound, revoked or expired
(CardUnbound), and the legal person's claim of the role. A mixin of EnterpriseApplication."""
from contracts import card as card_contract
from contracts import validators
from contracts.card import LEGAL_PERSON
from contracts.enterprise import CERTIFICATION_LOST_REASONS
from contracts.errors import ValidationFailed
from contracts.times import iso_of_epoch
from contracts.validators import check_field
from services.common.application import retry_on_conflict
from services.common.commands import command

from .domain import ADMIN, APPROVED, PENDING, SUPERSEDED, Association, Enterprise, enterprise_id_of
from .inputs import user_id_input

CONSUMER = "enterprise"


class RoleCertification:
    @command
    def certify_card(self, run, user_id, enterprise_id, association_id, card_no, card_type, uscc):
        """`user_id`, the holder of a card of the e-port CA naming this enterprise's USCC, bound it to
        their association: the enterprise is certified (企业认证), and a legal-person card bound by
        the administrator certifies their role. {certified, role_certified} as they are now."""
        def attempt():  # another decision on the enterprise meanwhile: decide again
            enterprise = self._enterprise(enterprise_id)
            if uscc != enterprise.uscc:
                raise ValidationFailed(details={"uscc": ["The card was issued to another enterprise."]})
            changed = enterprise.certify_enterprise()
            if card_type == LEGAL_PERSON and enterprise.members.get(user_id) == association_id:
                changed = enterprise.certify_role(user_id, via="legal_person_card", card_no=card_no) or changed
            answer = {"certified": enterprise.certified, "role_certified": enterprise.is_certified_admin(user_id)}
            if changed:
                run.save(enterprise, answer=answer)
            return answer

        return retry_on_conflict(attempt, message="The enterprise changed while certifying; try again.")

    def learn(self, envelope):
        """A card event: CardBound certifies (as certify_card did), CardUnbound un-certifies. False
        for a repeat, another event or no change."""
        if envelope.get("source") != card_contract.SOURCE:
            return False
        if envelope.get("event_type") == card_contract.CARD_UNBOUND.name:
            return self._learn_unbound(envelope)
        if envelope.get("event_type") == card_contract.CARD_BOUND.name:
            return self._learn_bound(envelope)
        return False

    def _learn_unbound(self, envelope):
        """The legal-person card a certification rests on was unbound (by its holder, or by the card
        service because the CA revoked it or it expired): the role is no longer certified, and the
        holder of a valid legal-person card may claim it. A handover's certification rests on no card."""
        def effect(p):
            enterprise = self.find(p["enterprise_id"], Enterprise)
            reason = p["reason"] if p["reason"] in CERTIFICATION_LOST_REASONS else "unbound"
            if enterprise is None or not enterprise.lose_certification(p["user_id"], p["card_no"], reason):
                return []
            return [enterprise]

        return self.consume(CONSUMER, envelope, card_contract.CardUnboundPayload, effect)

    def _learn_bound(self, envelope):
        """A CardBound of the card service: what certify_card did when it was bound. It matters for
        bindings made before role certification existed, which the card service's history holds:
        replaying it (`eport replay card --to-queue enterprise.card-events`) certifies the
        administrators who had bound their legal-person card; and after an unbinding handled late
        (a card unbound and another bound at once), it certifies again."""

        def effect(p):
            enterprise = self.find(p["enterprise_id"], Enterprise)
            # A binding names its association; one stored before USCCs were published names none
            # (binding has checked the USCC since the card service published bindings at all).
            if enterprise is None or p["uscc"] not in (None, enterprise.uscc):
                return []
            changed = p["uscc"] is not None and enterprise.certify_enterprise()
            if p["card_type"] == LEGAL_PERSON and p["association_id"] is not None \
                    and enterprise.members.get(p["user_id"]) == p["association_id"]:
                changed = enterprise.certify_role(p["user_id"], via="legal_person_card", card_no=p["card_no"]) \
                    or changed
            return [enterprise] if changed else []

        return self.consume(CONSUMER, envelope, card_contract.CardBoundPayload, effect)

    def check_admin_claim(self, actor_user_id, uscc, name=None, address=None, business_scope=None):
        """What `claim_admin` would refuse, refused without writing anything: 409 ENTERPRISE_HAS_ADMIN
        when its administrator is certified, 400 when an unregistered enterprise the registry does not
        know lacks its details. {enterprise_id, registered}."""
        actor_user_id = check_field("actor_user_id", user_id_input, actor_user_id)
        uscc = check_field("uscc", validators.uscc, uscc)
        enterprise = self.find(enterprise_id_of(uscc), Enterprise)
        if enterprise is None:
            self._details(uscc, name, address, business_scope)
        else:
            enterprise.check_claim(actor_user_id)
            self._claimed_details(enterprise, actor_user_id, name, address, business_scope)  # hand_entered.py
        return {"enterprise_id": str(enterprise_id_of(uscc)), "registered": enterprise is not None}

    @command
    def claim_admin(self, run, actor_user_id, uscc, card_no, name=None, address=None, business_scope=None):
        """The holder of the enterprise's legal-person card (proved to the card service) becomes its
        certified administrator: registering it if nobody has, superseding an uncertified
        administrator (their association ends, reason superseded), certifying the role. A claim or
        decision saved meanwhile makes it decide again against what is stored then (409 once the
        other claimant's role is certified)."""
        actor_user_id = check_field("actor_user_id", user_id_input, actor_user_id)
        uscc = check_field("uscc", validators.uscc, uscc)
        return retry_on_conflict(lambda: self._claim(run, actor_user_id, uscc, card_no, name, address, business_scope),
                                 message="The enterprise changed while claiming; try again.")

    def _claim(self, run, actor_user_id, uscc, card_no, name, address, business_scope):
        enterprise = self.find(enterprise_id_of(uscc), Enterprise)
        superseded = None
        if enterprise is None:
            details = dict(self._details(uscc, name, address, business_scope), certified=True)  # the card names it
            aggregates = self._new_enterprise(actor_user_id, uscc, details, None)
            enterprise, association = aggregates[:2]
        else:
            enterprise.check_claim(actor_user_id)
            self._replace_typed_details(enterprise, actor_user_id, name, address, business_scope)
            enterprise.certify_enterprise()
            if enterprise.admin_user_id == actor_user_id:  # the uncertified administrator themself
                association, aggregates = self._association(enterprise.members[actor_user_id]), [enterprise]
            else:
                superseded = enterprise.admin_user_id
                former = self._association(enterprise.members[superseded])
                association, more = self._claimant_association(actor_user_id, enterprise)
                if former.live:  # else it ended already: its account was superseded (supersession.py)
                    former.remove(by_user_id=actor_user_id, at=iso_of_epoch(self.clock()), reason=SUPERSEDED)
                enterprise.supersede(actor_user_id, str(association.id))
                aggregates = [enterprise, former, association, *more]
        enterprise.certify_role(actor_user_id, via="claim", card_no=card_no)
        answer = {"enterprise_id": str(enterprise.id), "association_id": str(association.id), "role": ADMIN,
                  "status": APPROVED, "role_certified": True, "certified": enterprise.certified,
                  "superseded_user_id": superseded}
        run.save(*aggregates, answer=answer)
        return answer

    def _claimant_association(self, actor_user_id, enterprise):
        """The claimant's live association made the administrator's, else a new one; with the other
        aggregates to save."""
        index = self._membership_index(actor_user_id, enterprise.id)
        current = self._association(index.association_id) if index is not None else None
        if current is not None and current.live:
            if current.role != ADMIN:
                current.change_role(ADMIN)
            if current.status == PENDING:
                current.approve(by_user_id=actor_user_id, at=iso_of_epoch(self.clock()))
            return current, []
        association = Association(enterprise_id=str(enterprise.id), user_id=actor_user_id, role=ADMIN,
                                  status=APPROVED, enterprise_name=enterprise.name, admin_user_id=actor_user_id,
                                  user_name=None)
        return association, self._linked(association, index)

"""Binding a card to an association and unbinding it. A mixin of CardApplication.

Concurrency: a binding saves the association's CardBinding and the card's CardIndex in one
transaction; a second writer that loaded the same versions fails with IntegrityError and decides
again from what is stored now (409 CARD_ALREADY_BOUND when the card was taken meanwhile).
"""
from contracts import card as contract
from contracts.times import iso_of_epoch
from contracts.validators import check_field
from services.common.application import retry_on_conflict
from services.common.commands import command

from .domain import (
    BIND, CardBinding, CardEnterpriseMismatch, CardHolderMismatch, CardIndex, CardNotBound, Unauthenticated,
    card_type_warning, check_approved_member,
)
from .inputs import certificate_input, id_input, signature_input


class Bindings:
    @command(resumable=True)
    def bind(self, run, peers, actor_user_id, enterprise_id, card_no, challenge_id, certificate_pem, signature_b64):
        """Bind the card to the actor's association with the enterprise: {card_no, card_type,
        bound_at, warning}. The card must be free, issued to this enterprise (the USCC in its
        certificate) and held by the account's registrant. `peers` answers membership and
        holder_matches (peers.py)."""
        if not actor_user_id:
            raise Unauthenticated(message="Log in first.")
        enterprise_id = check_field("enterprise_id", id_input, enterprise_id)
        card_no = check_field("card_no", contract.card_no, card_no)
        challenge_id = check_field("challenge_id", id_input, challenge_id)
        certificate_pem = check_field("certificate", certificate_input, certificate_pem)
        signature = check_field("signature", signature_input, signature_b64)

        membership = peers.membership(actor_user_id, enterprise_id)
        check_approved_member(membership)
        _, nonce = self._spend_challenge(run, challenge_id, purpose=BIND, user_id=actor_user_id, card_no=card_no)
        info = self._verify_card(certificate_pem, nonce, signature, card_no)

        # Taken already? Said before the holder check: nobody else can bind it until it is unbound.
        binding_id = CardBinding.create_id(actor_user_id, enterprise_id)
        self._check_can_bind(binding_id, actor_user_id, enterprise_id, card_no)
        if info.uscc != membership.get("uscc"):  # a card acts for the enterprise it was issued to
            raise CardEnterpriseMismatch()
        if not peers.holder_matches(actor_user_id, info.holder_name, info.holder_id_number):
            raise CardHolderMismatch()
        # Certified before the binding is saved: the card has proved itself either way, and an
        # enterprise service that does not answer then leaves no binding without its certification
        # (503; the retry with the same key resumes the command, its challenge spent already).
        certified = peers.certify_card(actor_user_id, enterprise_id, membership["association_id"], card_no,
                                       info.card_type, info.uscc)
        return self._save_binding(run, actor_user_id, enterprise_id, card_no, info, membership["association_id"],
                                  membership["role"], answer=lambda binding: dict(
                                      binding.view(), warning=card_type_warning(membership["role"], info.card_type),
                                      role_certified=bool(certified.get("role_certified"))))

    def _save_binding(self, run, user_id, enterprise_id, card_no, info, association_id, role, answer):
        """Bind the card (`info`: its certificate's fields) to the association, unless it was taken,
        with the command's answer `answer(binding)`, which it returns."""
        def attempt():
            binding = self._binding(user_id, enterprise_id) or CardBinding(user_id=user_id, enterprise_id=enterprise_id)
            index, moved = self._index_moved(card_no)
            index = index or CardIndex(card_no=card_no)
            index.check_free_for(binding.id)
            binding.bind(card_no=card_no, card_type=info.card_type, association_id=association_id, role=role,
                         bound_at=iso_of_epoch(self.clock()), by_user_id=user_id, uscc=info.uscc,
                         serial_number=f"{info.serial_number:x}", not_after=info.not_after.isoformat())
            index.claim(binding_id=binding.id, user_id=user_id, enterprise_id=enterprise_id,
                        cert_sha256=info.fingerprint)
            by_user = self._list(f"user:{user_id}")
            by_user.add_once(enterprise_id)
            by_enterprise = self._list(f"enterprise:{enterprise_id}")
            by_enterprise.add_once(user_id)
            answered = answer(binding)
            run.save(binding, index, *moved, by_user, by_enterprise, answer=answered)
            return answered

        return retry_on_conflict(attempt)

    def _check_can_bind(self, binding_id, user_id, enterprise_id, card_no):
        index = self._index(card_no)
        if index is not None:
            index.check_free_for(binding_id)
        binding = self._binding(user_id, enterprise_id)
        if binding is not None:
            binding.check_free()

    @command
    def unbind(self, run, actor_user_id, enterprise_id):
        """解除绑定: the actor's own association loses its card; 404 CARD_NOT_BOUND when it has none."""
        if not actor_user_id:
            raise Unauthenticated(message="Log in first.")
        enterprise_id = check_field("enterprise_id", id_input, enterprise_id)

        def attempt():
            binding = self._binding(actor_user_id, enterprise_id)
            if binding is None:
                raise CardNotBound(message="No card is bound to this enterprise association.")
            aggregates = self._unbind(binding, reason="unbound", by_user_id=actor_user_id)
            run.save(*aggregates, answer=None)  # the RPC answers nothing (204)

        retry_on_conflict(attempt)

    def _unbind(self, binding, *, reason, by_user_id):
        index, moved = self._index_moved(binding.card_no) if binding.bound else (None, [])
        binding.unbind(reason=reason, by_user_id=by_user_id)
        if index is None:
            return [binding]
        index.release_from(binding.id)
        return [binding, index, *moved]

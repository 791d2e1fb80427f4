"""Details typed by hand (the registry does not know the USCC) are not vouched for by anyone: how
many such enterprises one account may hold uncertified, who may edit them, and how a claim with the
legal-person card replaces them. A mixin of EnterpriseApplication.

- Quota: an account administers at most UNCERTIFIED_BY_HAND_MAX enterprises it registered by hand
  while its role there is uncertified. Its `HandRegistrations` list is saved with every new one, so
  two registrations in parallel conflict and the second counts again (retry_on_conflict).
- Edit (PUT /api/v1/enterprises/{id}): only its certified administrator, never the registry's details.
- Claim: the holder of the legal-person card vouches for what they type, which replaces what was
  typed before; they must type it when nobody vouched for the details yet (企业认证 false: neither the
  registry nor a card of the e-port CA naming the USCC), unless they typed those themselves.
"""
from contracts.enterprise import UNCERTIFIED_BY_HAND_MAX
from contracts.validators import check_fields, optional
from services.common.application import retry_on_conflict
from services.common.commands import command

from .domain import Enterprise, EnterpriseFromRegistry, HandRegistrations, TooManyUncertified
from .inputs import MANUAL_CHECKS, check_manual_fields

EDIT_CHECKS = {field: optional(check) for field, check in MANUAL_CHECKS.items()}


class HandEntered:
    # -- the quota of uncertified enterprises registered by hand ---------------------------------
    def _hand_registrations(self, user_id):
        key = HandRegistrations.key_of(user_id)
        return self.find(HandRegistrations.create_id(key), HandRegistrations) or HandRegistrations(key=key)

    def uncertified_by_hand(self, user_id):
        """Ids of the enterprises `user_id` registered by hand and administers with an uncertified role."""
        held = []
        for enterprise_id in self._hand_registrations(user_id).items:
            enterprise = self.find(enterprise_id, Enterprise)
            if enterprise is not None and enterprise.admin_user_id == user_id and not enterprise.admin_role_certified:
                held.append(enterprise_id)
        return held

    def _hand_quota(self, user_id, enterprise_id):
        """The account's list with `enterprise_id` added (save it with the enterprise), or 409
        TOO_MANY_UNCERTIFIED when it holds its most already."""
        mine = self._hand_registrations(user_id)
        if len(self.uncertified_by_hand(user_id)) >= UNCERTIFIED_BY_HAND_MAX:
            raise TooManyUncertified(
                message=f"You administer {UNCERTIFIED_BY_HAND_MAX} enterprises registered by hand whose administrator "
                        "role is not certified (角色认证): certify one with its legal-person card (法人卡) first.",
                details={"uscc": [f"At most {UNCERTIFIED_BY_HAND_MAX} uncertified enterprises registered by hand."]})
        mine.add_once(str(enterprise_id))
        return mine

    # -- the certified administrator edits them --------------------------------------------------
    @command
    def update_details(self, run, actor_user_id, enterprise_id, name=None, address=None, business_scope=None):
        """PUT /api/v1/enterprises/{id}: the enterprise as GET shows it afterwards."""
        values = check_fields({"name": (EDIT_CHECKS["name"], name), "address": (EDIT_CHECKS["address"], address),
                               "business_scope": (EDIT_CHECKS["business_scope"], business_scope)})

        def attempt():  # another change of the enterprise meanwhile: decide again on fresh state
            enterprise = self._enterprise(enterprise_id)
            enterprise.check_certified_admin(actor_user_id)
            if self.registry.lookup(enterprise.uscc) is not None:
                raise EnterpriseFromRegistry(
                    message="The enterprise's details come from the enterprise credit registry; they are not "
                            "edited here.", details={"uscc": ["Known to the registry."]})
            changed = enterprise.change_details(by_user_id=actor_user_id, via="admin", **values)
            answer = self._enterprise_dict(enterprise)
            run.save(*([enterprise] if changed else []), answer=answer)
            return answer

        return retry_on_conflict(attempt, message="The enterprise changed while editing; try again.")

    # -- a claim replaces them -------------------------------------------------------------------
    def _claimed_details(self, enterprise, actor_user_id, name, address, business_scope):
        """The details a claim of the existing `enterprise` gives it, or None to keep its own: the
        registry's when it knows the USCC; else the claimant's (all three), required (400 naming them)
        while the enterprise is not certified, unless the claimant is the administrator who typed them."""
        entry = self.registry.lookup(enterprise.uscc)
        if entry is not None:
            return {"name": entry.name, "address": entry.address, "business_scope": entry.business_scope}
        if name is None and address is None and business_scope is None \
                and (enterprise.certified or actor_user_id == enterprise.admin_user_id):
            return None
        return check_manual_fields(name, address, business_scope)

    def _replace_typed_details(self, enterprise, actor_user_id, name, address, business_scope):
        details = self._claimed_details(enterprise, actor_user_id, name, address, business_scope)
        if details is not None:
            enterprise.change_details(by_user_id=actor_user_id, via="claim", **details)

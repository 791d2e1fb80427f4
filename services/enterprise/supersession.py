"""实名认证 seen from the enterprise application: when the holder of an ID number's card claims it
(identity's UserSuperseded), the unproved account that held it ends every membership, status removed
and reason superseded (MemberRemoved tells card, authz and the audit trail). A mixin of
EnterpriseApplication.

An administrator so superseded stays recorded as the enterprise's administrator, their role no
longer certified, until the holder of the legal-person card claims it (POST /api/v1/admin-claims):
nobody can act as them (their sessions have ended and they can no longer log in), and a vacancy
would leave requests with nobody to ask.
"""
from contracts import identity as identity_contract
from contracts.times import iso_of_epoch

from .domain import SUPERSEDED, AssociationList

CONSUMER = "enterprise"


class Supersession:
    def learn_identity(self, envelope):
        """Apply one identity event (UserSuperseded); False for a repeat, another event or no change."""
        superseded = identity_contract.USER_SUPERSEDED
        if envelope.get("source") != superseded.source or envelope.get("event_type") != superseded.name:
            return False
        return self.consume(CONSUMER, envelope, superseded.payload,
                            lambda p: self._end_memberships(p["user_id"], p["by_user_id"]))

    def _end_memberships(self, user_id, by_user_id):
        """Every live association of `user_id` removed (reason superseded): the aggregates changed."""
        mine = self.find(AssociationList.create_id(AssociationList.user_key(user_id)), AssociationList)
        at = iso_of_epoch(self.clock())
        changed = {}
        for association_id in mine.items if mine else []:
            association = self._association(association_id)
            if not association.live:
                continue
            association.remove(by_user_id=by_user_id, at=at, reason=SUPERSEDED)
            changed[association_id] = association
            enterprise = changed.get(association.enterprise_id) or self._enterprise(association.enterprise_id)
            if enterprise.members.get(user_id) != association_id:
                continue  # a pending request: no member yet
            if enterprise.admin_user_id == user_id:
                enterprise.admin_identity_superseded()
            else:
                enterprise.release(user_id)
            changed[association.enterprise_id] = enterprise
        return list(changed.values())

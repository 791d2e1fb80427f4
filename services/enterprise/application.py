"""The enterprise service's Application: registry look-up, association, approval, administrator
transfer, and the queries the gateway and other services need. Commands and queries take and
return simple types (str ids, dicts, lists).

Concurrency: each command saves every aggregate it changed in one transaction; a second writer
that loaded the same versions fails with IntegrityError. Approvals, transfers and removals all
change the Enterprise aggregate, so two of them on one enterprise never both succeed: the loser
gets 409 CONFLICT. Applications retry a few times (they only add to lists), then re-check.
"""
import time

from eventsourcing.persistence import IntegrityError

from contracts import validators
from contracts.pages import page_of, scope_tag, sortable_time
from contracts.times import iso_of_epoch
from contracts.validators import check_field, check_fields
from services.common.application import ServiceApplication, as_uuid, retry_on_conflict
from services.common.commands import command

from .domain import (
    ADMIN, APPROVED, PENDING, USER, AlreadyAssociated, Association, AssociationList,
    AssociationNotFound, Conflict, Enterprise, EnterpriseHasAdmin, EnterpriseNotFound, EnterpriseNotRegistered,
    MembershipIndex, enterprise_id_of,
)
from .certification import RoleCertification
from .hand_entered import HandEntered
from .personal_data import personal_data
from .inputs import check_manual_fields, reason_input, role_input, status_input, user_id_input
from .registry import registry_from_env
from .supersession import Supersession

def _iso_or_none(dt):
    return dt.isoformat() if dt is not None else None


def _admin_then_oldest(member):
    return "0" if member["role"] == ADMIN else "1", sortable_time(member["requested_at"]), member["association_id"]


def _by_time(request):
    return sortable_time(request["requested_at"]), request["association_id"]


def _decided(association):
    return {"association_id": str(association.id), "status": association.status}


def _role_certified(association, enterprise):
    """角色认证 of an association: the live administrator's, once certified; false for every other."""
    return bool(enterprise is not None and association.role == ADMIN and association.status == APPROVED
                and enterprise.members.get(association.user_id) == str(association.id)
                and enterprise.is_certified_admin(association.user_id))


class EnterpriseApplication(RoleCertification, Supersession, HandEntered, ServiceApplication):
    service_name = "enterprise"

    def __init__(self, env=None, registry=None, *, clock=time.time):
        super().__init__(env)
        self.clock = clock  # epoch seconds; tests replace it to move time
        self.registry = registry if registry is not None else registry_from_env()

    # -- loading ----------------------------------------------------------------------------
    def _enterprise(self, enterprise_id):
        return self.load(enterprise_id, Enterprise, EnterpriseNotFound(
            message="No such enterprise.", details={"enterprise_id": ["No enterprise with this id."]}))

    def _association(self, association_id):
        return self.load(association_id, Association, AssociationNotFound(
            message="No such association request.", details={"association_id": ["No association with this id."]}))

    def _list(self, key):
        return self.find(AssociationList.create_id(key), AssociationList) or AssociationList(key=key)

    def _membership_index(self, user_id, enterprise_id):
        return self.find(MembershipIndex.create_id(user_id=user_id, enterprise_id=str(enterprise_id)),
                         MembershipIndex)

    # -- registry -----------------------------------------------------------------------------
    def lookup_registry(self, uscc):
        uscc = check_field("uscc", validators.uscc, uscc)
        entry = self.registry.lookup(uscc)
        enterprise = self.find(enterprise_id_of(uscc), Enterprise)
        if enterprise is not None:
            return {"uscc": uscc, "name": enterprise.name, "address": enterprise.address,
                    "business_scope": enterprise.business_scope, "registered": True,
                    "certified": enterprise.certified, "from_registry": entry is not None,
                    "enterprise_id": str(enterprise.id)}
        if entry is None:
            raise EnterpriseNotFound(message="未查询到企业, 可手动填写信息 (no registry entry for this USCC).",
                                     details={"uscc": ["No enterprise with this USCC in the registry."]})
        return dict(entry.as_dict(), registered=False, certified=True, from_registry=True, enterprise_id=None)

    # -- association --------------------------------------------------------------------------
    @command
    def associate(self, run, actor_user_id, uscc, role, name=None, address=None, business_scope=None,
                  user_name=None, peers=None):
        """Role admin registers the enterprise (201); role user applies to a registered one (202).

        `user_name`: the applicant's name for the administrator's requests list; without one it is
        asked of identity through `peers` (services/enterprise/peers.py), only once the input is valid.
        """
        actor_user_id = check_field("actor_user_id", user_id_input, actor_user_id)
        uscc = check_fields({"uscc": (validators.uscc, uscc), "role": (role_input, role)})["uscc"]
        if user_name is None and peers is not None and role == USER:  # a well-formed application
            user_name = peers.user_name(actor_user_id)

        def attempt():  # someone else changed a list or an index meanwhile: load again and re-check
            if role == ADMIN:
                return self._register(run, actor_user_id, uscc, name, address, business_scope, user_name)
            return self._apply(run, actor_user_id, uscc, user_name)

        return retry_on_conflict(attempt, message="The enterprise changed while applying; try again.")

    def _register(self, run, actor_user_id, uscc, name, address, business_scope, user_name):
        enterprise_id = enterprise_id_of(uscc)
        if self.find(enterprise_id, Enterprise) is not None:
            raise EnterpriseHasAdmin(message="This enterprise already has an administrator; associate as an "
                                             "enterprise user (企业用户) instead.")
        details = self._details(uscc, name, address, business_scope)
        aggregates = self._new_enterprise(actor_user_id, uscc, details, user_name)
        enterprise, association = aggregates[:2]
        if not details["certified"]:  # typed by hand: counted (and serialised) per account
            aggregates.append(self._hand_quota(actor_user_id, enterprise_id))
        answer = {"association_id": str(association.id), "enterprise_id": str(enterprise_id),
                  "role": ADMIN, "status": APPROVED, "certified": enterprise.certified}
        try:
            run.save(*aggregates, answer=answer)
        except IntegrityError:
            if self.find(enterprise_id, Enterprise) is not None:
                raise EnterpriseHasAdmin(
                    message="This enterprise was registered by another administrator just now.") from None
            raise
        return answer

    def _details(self, uscc, name, address, business_scope):
        """(name, address, business_scope, certified) of a new enterprise: the registry's, else typed."""
        entry = self.registry.lookup(uscc)
        if entry is not None:
            return {"name": entry.name, "address": entry.address, "business_scope": entry.business_scope,
                    "certified": True}
        return dict(check_manual_fields(name, address, business_scope), certified=False)

    def _new_enterprise(self, actor_user_id, uscc, details, user_name):
        """The unsaved aggregates that register the enterprise with the actor as its administrator:
        [enterprise, association, index, roster, the actor's list]."""
        enterprise_id = enterprise_id_of(uscc)
        association = Association(enterprise_id=str(enterprise_id), user_id=actor_user_id, role=ADMIN,
                                  status=APPROVED, enterprise_name=details["name"], admin_user_id=actor_user_id,
                                  user_name=user_name)
        enterprise = Enterprise(uscc=uscc, admin_user_id=actor_user_id, admin_association_id=str(association.id),
                                **details)
        return [enterprise, association, *self._linked(association, self._membership_index(actor_user_id,
                                                                                           enterprise_id))]

    def _apply(self, run, actor_user_id, uscc, user_name):
        enterprise = self.find(enterprise_id_of(uscc), Enterprise)
        if enterprise is None:
            raise EnterpriseNotRegistered(
                message="No administrator has registered this enterprise yet: its administrator must associate first.",
                details={"uscc": ["Not registered on the platform."]})
        index = self._membership_index(actor_user_id, enterprise.id)
        if index is not None:
            current = self._association(index.association_id)
            if current.live:
                raise AlreadyAssociated(message=f"You already have a {current.status} association with it.",
                                        details={"association_id": str(current.id), "status": current.status})
        association = Association(enterprise_id=str(enterprise.id), user_id=actor_user_id, role=USER,
                                  status=PENDING, enterprise_name=enterprise.name,
                                  admin_user_id=enterprise.admin_user_id, user_name=user_name)
        answer = {"association_id": str(association.id), "enterprise_id": str(enterprise.id),
                  "role": USER, "status": PENDING}
        run.save(association, *self._linked(association, index), answer=answer)
        return answer

    def _linked(self, association, index):
        """The user's membership index (`index`, or a new one) pointed at a new association, and the
        enterprise's and the user's lists holding it: the aggregates to save with it."""
        if index is None:
            index = MembershipIndex(user_id=association.user_id, enterprise_id=association.enterprise_id,
                                    association_id=str(association.id))
        else:
            index.point_to(str(association.id))
        roster = self._list(AssociationList.roster_key(association.enterprise_id))
        roster.add_once(str(association.id))
        mine = self._list(AssociationList.user_key(association.user_id))
        mine.add_once(str(association.id))
        return [index, roster, mine]

    # -- the administrator's decisions ------------------------------------------------------
    @staticmethod
    def _save_decision(run, answer, *aggregates):
        """Save the decision's aggregates with its answer (the command's run: services/common/commands.py)."""
        try:
            run.save(*aggregates, answer=answer)
        except IntegrityError:
            raise Conflict(
                message="Someone changed this enterprise at the same moment; reload and try again.") from None
        return answer

    @command
    def approve(self, run, actor_user_id, association_id):
        association = self._association(association_id)
        enterprise = self._enterprise(association.enterprise_id)
        enterprise.check_certified_admin(actor_user_id)
        association.approve(by_user_id=actor_user_id, at=iso_of_epoch(self.clock()), enterprise_name=enterprise.name)
        enterprise.admit(association.user_id, str(association.id))
        return self._save_decision(run, _decided(association), association, enterprise)

    @command
    def reject(self, run, actor_user_id, association_id, reason=None):
        reason = check_field("reason", reason_input, reason)
        association = self._association(association_id)
        enterprise = self._enterprise(association.enterprise_id)
        enterprise.check_certified_admin(actor_user_id)
        association.reject(by_user_id=actor_user_id, reason=(reason or "").strip() or None,
                           at=iso_of_epoch(self.clock()), enterprise_name=enterprise.name)
        return self._save_decision(run, _decided(association), association)

    @command
    def transfer_admin(self, run, actor_user_id, enterprise_id, to_user_id):
        to_user_id = check_field("user_id", user_id_input, to_user_id)
        enterprise = self._enterprise(enterprise_id)
        enterprise.check_transfer(actor_user_id, to_user_id)
        former = self._association(enterprise.members[actor_user_id])
        successor = self._association(enterprise.members[to_user_id])
        enterprise.transfer_admin(to_user_id)
        former.change_role(USER)
        successor.change_role(ADMIN)
        return self._save_decision(run, {"enterprise_id": str(enterprise.id),
                                         "admin_user_id": enterprise.admin_user_id}, enterprise, former, successor)

    @command
    def remove_member(self, run, actor_user_id, enterprise_id, user_id):
        user_id = check_field("user_id", user_id_input, user_id)
        enterprise = self._enterprise(enterprise_id)
        enterprise.check_removal(actor_user_id, user_id)
        association = self._association(enterprise.members[user_id])
        association.remove(by_user_id=actor_user_id, at=iso_of_epoch(self.clock()))
        enterprise.release(user_id)
        return self._save_decision(run, _decided(association), enterprise, association)

    # -- queries ------------------------------------------------------------------------------
    def _enterprise_dict(self, enterprise):
        return {"enterprise_id": str(enterprise.id), "uscc": enterprise.uscc, "name": enterprise.name,
                "address": enterprise.address, "business_scope": enterprise.business_scope,
                "certified": enterprise.certified, "admin_user_id": enterprise.admin_user_id,
                "admin_role_certified": enterprise.admin_role_certified,
                "from_registry": self.registry.lookup(enterprise.uscc) is not None,
                "registered_at": _iso_or_none(enterprise.created_on)}

    def get_enterprise(self, enterprise_id, actor_user_id=None):
        """Without an actor (service to service) anyone's; with one, only an approved member's."""
        enterprise = self._enterprise(enterprise_id)
        if actor_user_id is not None:
            enterprise.check_member(actor_user_id)
        return self._enterprise_dict(enterprise)

    @staticmethod
    def _association_dict(association, enterprise=None):
        return {"association_id": str(association.id), "enterprise_id": association.enterprise_id,
                "user_id": association.user_id, "user_name": association.user_name, "role": association.role,
                "status": association.status, "requested_at": _iso_or_none(association.created_on),
                "decided_at": association.decided_at,
                "role_certified": _role_certified(association, enterprise)}

    def members(self, actor_user_id, enterprise_id, limit=None, cursor=None):
        """A page of the approved members, the administrator first, then oldest first
        (contracts/pages.py); only for the certified administrator."""
        enterprise = self._enterprise(enterprise_id)
        enterprise.check_certified_admin(actor_user_id)
        items = [self._association_dict(self._association(a), enterprise) for a in enterprise.members.values()]
        return page_of(items, _admin_then_oldest, scope=scope_tag("members", str(enterprise.id)), limit=limit,
                       cursor=cursor)

    def association_requests(self, actor_user_id, enterprise_id, status=None, limit=None, cursor=None):
        """A page of the applications to join as a user, newest first (contracts/pages.py); only
        for the certified administrator."""
        status = check_field("status", status_input, status)
        enterprise = self._enterprise(enterprise_id)
        enterprise.check_certified_admin(actor_user_id)
        roster = self.find(AssociationList.create_id(AssociationList.roster_key(enterprise.id)), AssociationList)
        items = []
        for association_id in reversed(roster.items if roster else []):
            association = self._association(association_id)
            if association.applied and (status is None or association.status == status):
                items.append(self._association_dict(association))
        return page_of(items, _by_time, scope=scope_tag("association-requests", str(enterprise.id)), limit=limit,
                       cursor=cursor, newest_first=True)

    def associations_of_user(self, user_id):
        """The live or last association of the user with each enterprise, oldest first."""
        mine = self.find(AssociationList.create_id(AssociationList.user_key(user_id)), AssociationList)
        latest = {}
        for association_id in mine.items if mine else []:
            association = self._association(association_id)
            latest.pop(association.enterprise_id, None)  # keep insertion order = latest application
            latest[association.enterprise_id] = association
        items = []
        for enterprise_id, association in latest.items():
            enterprise = self._enterprise(enterprise_id)
            items.append({"association_id": str(association.id), "enterprise_id": enterprise_id,
                          "enterprise_name": enterprise.name, "uscc": enterprise.uscc,
                          "certified": enterprise.certified, "role": association.role,
                          "status": association.status, "requested_at": _iso_or_none(association.created_on),
                          "role_certified": _role_certified(association, enterprise)})
        return items

    def admin_has_members(self, user_id):
        """Whether the user administers an enterprise that has other approved members: their erasure
        waits for the role's handover (services/identity/erasures.py)."""
        mine = self.find(AssociationList.create_id(AssociationList.user_key(user_id)), AssociationList)
        for association_id in mine.items if mine else []:
            enterprise = self._enterprise(self._association(association_id).enterprise_id)
            if enterprise.admin_user_id == user_id and len(enterprise.members) > 1:
                return True
        return False

    def personal_data(self, user_id):
        """enterprise's part of the export of `user_id` (personal_data.py)."""
        return personal_data(self, user_id)

    def membership(self, user_id, enterprise_id):
        """The live or last association of the user with the enterprise, or None."""
        enterprise_uuid = as_uuid(enterprise_id)
        if enterprise_uuid is None:
            return None
        index = self._membership_index(user_id, enterprise_uuid)
        if index is None:
            return None
        association = self._association(index.association_id)
        enterprise = self._enterprise(association.enterprise_id)  # the card service compares a card's USCC
        return {"association_id": str(association.id), "role": association.role, "status": association.status,
                "uscc": enterprise.uscc, "role_certified": _role_certified(association, enterprise)}

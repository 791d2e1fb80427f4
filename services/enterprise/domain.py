"""Enterprises, associations of users with them, and the indexes that keep their rules under
concurrency. No I/O here: the application loads and saves.

- `Enterprise` (id = uuid5 of the USCC): registered once, by its first administrator; holds who the
  administrator is, whether that administrator's role is certified (角色认证), and who the approved
  members are, so that approvals, transfers, removals, certifications and claims of one enterprise
  are serialised by its version.

Role certification: only the e-port CA's legal-person card (法人卡) vouches for an administrator. A
role starts uncertified; binding the enterprise's legal-person card, a handover by a certified
administrator, or a claim with that card certifies it. A certification by a card rests on it
(`certifying_card`): that card unbound, revoked or expired ends it (RoleCertificationLost); a
handover's rests on no card and stays as given. Until then the administrator sees but does
not act (`check_certified_admin`), and the card's holder may supersede them (`check_claim`).
Enterprises stored before certification existed replay as uncertified: their events never set it.
- `Association`: one application of one user to one enterprise (a rejected user applies again with
  a new one).
- `MembershipIndex` (id from user and enterprise): points at the live or last association of that
  pair; at most one live association per pair holds because every new one moves this pointer.
- `AssociationList`: the association ids of one enterprise (its roster) or of one user.
"""
import uuid

from eventsourcing.domain import Aggregate, event

from contracts import errors as e
from contracts.enterprise import ADMIN, APPROVED, PENDING, REJECTED, REMOVED, USER  # noqa: F401 (the domain's words)
from contracts.errors import (ROLE_NOT_CERTIFIED_MESSAGE, Conflict, DomainError, Forbidden,  # noqa: F401 (shared)
                             NotAMember, RoleNotCertified)
from services.common.aggregates import KeyedList
from services.common.sealing import OWNER, PersonalData

ENTERPRISE_NAMESPACE = uuid.UUID("3c9b1a52-6f0e-4c1e-9a0b-2e4f8d7c5a11")
INDEX_NAMESPACE = uuid.UUID("8e2f6d40-1b7a-4f3c-b5d9-0a6c4e2f9b37")

SUPERSEDED = "superseded"  # the reason of a removal by a claim of the role (角色认证)
LIVE = (PENDING, APPROVED)


# -- domain errors ------------------------------------------------------------------------------
class EnterpriseNotFound(DomainError):
    code = e.ENTERPRISE_NOT_FOUND


class EnterpriseNotRegistered(DomainError):
    code = e.ENTERPRISE_NOT_REGISTERED


class EnterpriseHasAdmin(DomainError):
    code = e.ENTERPRISE_HAS_ADMIN


class AlreadyAssociated(DomainError):
    code = e.ALREADY_ASSOCIATED


class AssociationNotFound(DomainError):
    code = e.ASSOCIATION_NOT_FOUND


class NotPending(DomainError):
    code = e.NOT_PENDING


class EnterpriseFromRegistry(DomainError):
    code = e.ENTERPRISE_FROM_REGISTRY


class TooManyUncertified(DomainError):
    code = e.TOO_MANY_UNCERTIFIED


def enterprise_id_of(uscc):
    return uuid.uuid5(ENTERPRISE_NAMESPACE, uscc)


# -- aggregates -----------------------------------------------------------------------------------
class Enterprise(PersonalData, Aggregate):
    # the card numbers of 角色认证 are the certified administrator's; the enterprise's names are no person's
    personal_owner = "admin_user_id"
    personal_events = {"CertifyingCardChanged": {"card_no": OWNER}, "RoleCertified": {"card_no": "user_id"},
                       "RoleCertificationLost": {"card_no": "user_id"}}
    personal_state = {"certifying_card": OWNER}
    not_personal_events = {"Registered": {"name"}, "DetailsChanged": {"name"}, "EnterpriseCertified": {"name"},
                           **{name: {"enterprise_name"} for name in ("AdminTransferred", "RoleCertificationLost",
                                                                    "RoleCertified", "AdminSuperseded")}}

    @staticmethod
    def create_id(uscc: str):
        return enterprise_id_of(uscc)

    @event("Registered")
    def __init__(self, *, uscc, name, address, business_scope, certified, admin_user_id, admin_association_id):
        self.uscc = uscc
        self.name = name
        self.address = address
        self.business_scope = business_scope
        self.certified = certified
        self.admin_user_id = admin_user_id
        self.admin_role_certified = False  # 角色认证 of admin_user_id's role
        self.certifying_card = None  # the legal-person card it rests on (None: a handover's, or none)
        self.members = {admin_user_id: admin_association_id}  # approved members: user_id -> association_id

    def is_member(self, user_id):
        return user_id in self.members

    def is_certified_admin(self, user_id):
        return user_id is not None and user_id == self.admin_user_id and self.admin_role_certified

    def check_admin(self, actor_user_id):
        """The administrator, certified or not: enough to see the enterprise as a member does."""
        if actor_user_id is None or actor_user_id != self.admin_user_id:
            raise Forbidden(message="Only the administrator of this enterprise may do this.")

    def check_certified_admin(self, actor_user_id):
        """The administrator whose role is certified: needed to approve, reject, remove, hand over, edit
        the details, and to see the members and the requests (people's names are not for an account
        that only typed a USCC)."""
        self.check_admin(actor_user_id)
        if not self.admin_role_certified:
            raise RoleNotCertified()

    def check_claim(self, actor_user_id):
        """May the holder of the enterprise's legal-person card claim its administrator role? Only
        from an uncertified administrator (themself included: the claim then only certifies)."""
        if self.admin_role_certified:
            if actor_user_id == self.admin_user_id:
                raise EnterpriseHasAdmin(message="You are already the certified administrator of this enterprise.")
            raise EnterpriseHasAdmin(
                message="This enterprise's administrator is certified (角色认证: 已认证): ask them to hand the "
                        "role over (变更企业管理员账号).", details={"uscc": ["Its administrator is certified."]})

    def check_member(self, actor_user_id):
        if not self.is_member(actor_user_id):
            raise Forbidden(message="Only approved members of this enterprise may see it.")

    def check_transfer(self, actor_user_id, to_user_id):
        self.check_member(actor_user_id)
        if to_user_id == self.admin_user_id:
            # Checked before the actor's role so that a repeated transfer (the same request sent
            # twice, or two at once) is told what happened rather than that it lacks the right.
            raise Conflict(message="This user is already the administrator of the enterprise.",
                           details={"user_id": ["Already the administrator."]})
        self.check_certified_admin(actor_user_id)
        if not self.is_member(to_user_id):
            raise NotAMember(message="The new administrator must be an approved member of the enterprise.",
                             details={"user_id": ["Not an approved member of this enterprise."]})

    def check_removal(self, actor_user_id, user_id):
        self.check_certified_admin(actor_user_id)
        if user_id == self.admin_user_id:
            raise Conflict(message="The administrator cannot be removed; transfer the role first.",
                           details={"user_id": ["The administrator."]})
        if not self.is_member(user_id):
            raise NotAMember(details={"user_id": ["Not an approved member of this enterprise."]})

    @event("MemberAdmitted")
    def admit(self, user_id, association_id):
        self.members[user_id] = association_id

    def transfer_admin(self, to_user_id):
        """A handover is itself a certified act (check_transfer): the successor's role is certified."""
        certified = self.admin_role_certified
        self._admin_transferred(from_user_id=self.admin_user_id, to_user_id=to_user_id,
                                enterprise_name=self.name)
        if certified:
            self._certify(via="handover", card_no=None)

    @event("AdminTransferred")
    def _admin_transferred(self, from_user_id, to_user_id, enterprise_name):
        self.admin_user_id = to_user_id
        self.admin_role_certified = False  # until a RoleCertified says otherwise (not so before 角色认证)
        self.certifying_card = None

    def certify_role(self, user_id, *, via, card_no=None):
        """Certify the role of `user_id` if they are the administrator and not certified yet;
        whether it changed anything. Certified already by another legal-person card (unbound since:
        one card per association), the certification rests on this one from now on."""
        if user_id != self.admin_user_id:
            return False
        if self.admin_role_certified:
            if card_no is None or self.certifying_card in (None, card_no):  # a handover's stays as given
                return False
            self._certifying_card_changed(card_no=card_no)
            return True
        self._certify(via=via, card_no=card_no)
        return True

    @event("CertifyingCardChanged")
    def _certifying_card_changed(self, card_no):
        self.certifying_card = card_no

    def lose_certification(self, user_id, card_no, reason):
        """The legal-person card `card_no` of `user_id` was unbound, revoked or expired: the
        administrator's certification ends if it rested on that card; whether it did."""
        if user_id != self.admin_user_id or not self.admin_role_certified or card_no is None \
                or getattr(self, "certifying_card", None) != card_no:
            return False
        self._role_certification_lost(user_id=user_id, association_id=self.members[user_id], card_no=card_no,
                                      reason=reason, enterprise_name=self.name)
        return True

    @event("RoleCertificationLost")
    def _role_certification_lost(self, user_id, association_id, card_no, reason, enterprise_name):
        self.admin_role_certified = False
        self.certifying_card = None

    def _certify(self, *, via, card_no):
        self._role_certified(user_id=self.admin_user_id, association_id=self.members[self.admin_user_id],
                             via=via, card_no=card_no, enterprise_name=self.name)

    @event("RoleCertified")
    def _role_certified(self, user_id, association_id, via, card_no, enterprise_name):
        self.admin_role_certified = True
        self.certifying_card = card_no  # None for a handover: it rests on no card

    def certify_enterprise(self):
        """企业认证 of an enterprise entered by hand: a card of the e-port CA names its USCC."""
        if self.certified:
            return False
        self._enterprise_certified(uscc=self.uscc, name=self.name)
        return True

    @event("EnterpriseCertified")
    def _enterprise_certified(self, uscc, name):
        self.certified = True

    def supersede(self, to_user_id, to_association_id):
        """The legal-person card's holder takes the role from the uncertified administrator (check_claim
        first); the former administrator is no member any more. Certify the new one next."""
        self._admin_superseded(from_user_id=self.admin_user_id, from_association_id=self.members[self.admin_user_id],
                               to_user_id=to_user_id, to_association_id=to_association_id,
                               enterprise_name=self.name)

    @event("AdminSuperseded")
    def _admin_superseded(self, from_user_id, from_association_id, to_user_id, to_association_id, enterprise_name):
        self.members.pop(from_user_id, None)
        self.members[to_user_id] = to_association_id
        self.admin_user_id = to_user_id
        self.admin_role_certified = False
        self.certifying_card = None

    def admin_identity_superseded(self):
        """The administrator's account was superseded by the ID number's card holder (实名认证,
        supersession.py): the role is certified no more, so the legal-person card's holder may claim it."""
        self._admin_identity_superseded(user_id=self.admin_user_id)

    @event("AdminIdentitySuperseded")
    def _admin_identity_superseded(self, user_id):
        self.admin_role_certified = False
        self.certifying_card = None

    def change_details(self, *, by_user_id, via, **details):
        """New name, address or business scope (None: unchanged); whether anything changed."""
        current = {"name": self.name, "address": self.address, "business_scope": self.business_scope}
        new = {k: (details.get(k) if details.get(k) is not None else v) for k, v in current.items()}
        if new == current:
            return False
        self._details_changed(uscc=self.uscc, **new, by_user_id=by_user_id, via=via)
        return True

    @event("DetailsChanged")
    def _details_changed(self, uscc, name, address, business_scope, by_user_id, via):
        self.name = name
        self.address = address
        self.business_scope = business_scope

    @event("MemberLeft")
    def release(self, user_id):
        self.members.pop(user_id, None)


class Association(PersonalData, Aggregate):
    personal_events = {"Created": {"user_name": OWNER}}
    not_personal_events = {name: {"enterprise_name"} for name in ("Created", "Approved", "Rejected", "Removed")}

    """`applied` tells a request (created as role user) from the administrator's own registration."""

    @event("Created")
    def __init__(self, *, enterprise_id, user_id, role, status, enterprise_name, admin_user_id, user_name=None):
        self.enterprise_id = enterprise_id
        self.user_id = user_id
        self.role = role
        self.status = status
        self.applied = status == PENDING
        self.enterprise_name = enterprise_name
        self.admin_user_id = admin_user_id
        self.user_name = user_name
        self.decided_at = None
        self.decided_by = None
        self.reason = None

    @property
    def live(self):
        return self.status in LIVE

    def check_pending(self):
        if self.status != PENDING:
            raise NotPending(message=f"The request is {self.status}, not pending.",
                             details={"status": [self.status]})

    def approve(self, by_user_id, *, at, enterprise_name=None):
        """`at`: the decision's ISO 8601 time (from the application's clock); `enterprise_name`: its
        name now, for the applicant's message (it may have changed since the request)."""
        self.check_pending()
        self._approved(by_user_id=by_user_id, enterprise_id=self.enterprise_id, user_id=self.user_id,
                       role=self.role, enterprise_name=enterprise_name or self.enterprise_name, decided_at=at)

    @event("Approved")
    def _approved(self, by_user_id, enterprise_id, user_id, role, enterprise_name, decided_at):
        self.status = APPROVED
        self.decided_by = by_user_id
        self.decided_at = decided_at

    def reject(self, by_user_id, reason=None, *, at, enterprise_name=None):
        self.check_pending()
        self._rejected(by_user_id=by_user_id, enterprise_id=self.enterprise_id, user_id=self.user_id, role=self.role,
                       enterprise_name=enterprise_name or self.enterprise_name, reason=reason, decided_at=at)

    @event("Rejected")
    def _rejected(self, by_user_id, enterprise_id, user_id, role, enterprise_name, reason, decided_at):
        self.status = REJECTED
        self.decided_by = by_user_id
        self.decided_at = decided_at
        self.reason = reason

    @event("RoleChanged")
    def change_role(self, role):
        self.role = role

    def remove(self, by_user_id, *, at, reason=REMOVED):
        self._removed(by_user_id=by_user_id, enterprise_id=self.enterprise_id, user_id=self.user_id,
                      role=self.role, enterprise_name=self.enterprise_name, decided_at=at, reason=reason)

    class Removed(Aggregate.Event):
        """v2 adds `reason` (removed | superseded); every removal stored before was the administrator's."""
        class_version = 2
        by_user_id: str
        enterprise_id: str
        user_id: str
        role: str
        enterprise_name: str
        decided_at: str
        reason: str

        @staticmethod
        def upcast_v1_v2(state):
            state["reason"] = REMOVED

    @event(Removed)
    def _removed(self, by_user_id, enterprise_id, user_id, role, enterprise_name, decided_at, reason):
        self.status = REMOVED
        self.decided_by = by_user_id
        self.decided_at = decided_at
        self.reason = reason


class MembershipIndex(Aggregate):
    @staticmethod
    def create_id(user_id: str, enterprise_id: str):
        return uuid.uuid5(INDEX_NAMESPACE, f"membership:{user_id}:{enterprise_id}")

    @event("Started")
    def __init__(self, *, user_id, enterprise_id, association_id):
        self.user_id = user_id
        self.enterprise_id = enterprise_id
        self.association_id = association_id

    @event("Moved")
    def point_to(self, association_id):
        self.association_id = association_id


class HandRegistrations(KeyedList):
    """The enterprises one account registered by hand (`hand:<user_id>`): saved with each new one, so
    that parallel registrations by one account conflict and count again (UNCERTIFIED_BY_HAND_MAX)."""
    namespace = uuid.UUID("6f3d2b19-8a4c-4e57-b0d1-95c7e2a4f816")

    @staticmethod
    def key_of(user_id):
        return f"hand:{user_id}"


class AssociationList(KeyedList):
    """The association ids of one enterprise (`roster:<enterprise_id>`) or one user (`user:<user_id>`)."""
    namespace = uuid.UUID("c4a1d7e2-3b58-4f96-8e0d-72b9f5a6c1e3")

    @staticmethod
    def roster_key(enterprise_id):
        return f"roster:{enterprise_id}"

    @staticmethod
    def user_key(user_id):
        return f"user:{user_id}"

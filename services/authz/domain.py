"""Who may use which business system of one enterprise.

One `EnterpriseAccess` aggregate per enterprise holds what authz has learnt from the enterprise
service (its administrator and its memberships) and the grants the administrator made. Keeping
them in one aggregate makes "only the current administrator grants, only to current members" and
"a membership that ends loses its grants" hold under concurrency: two writers of one enterprise
conflict on its version and the loser retries against the new state.

Learning from enterprise events is written to give the same state whatever order the events are
handled in (Nameko workers handle one queue's messages concurrently, and a requeued message comes
back after later ones):
- memberships are keyed by association_id and a removal is a tombstone: an approval handled after
  the removal of the same association changes nothing (a user who joins again gets a new
  association_id);
- the administrator, and whether their role is certified (角色认证), are set by the events of the
  enterprise's own aggregate (EnterpriseRegistered, AdminTransferred, AdminSuperseded,
  RoleCertificationLost: uncertified; RoleCertified: certified), each only when it is newer than
  the one applied before (the enterprise aggregate's version in the envelope; events of different
  source aggregates cannot be compared and are applied in the order handled).

An administrator whose role is not certified is allowed no system and grants nothing. Enterprises
learnt before certification existed replay as uncertified: AdminChanged v1 is upcast to
`role_certified: False` by the library (class_version 2).
"""
import uuid

from eventsourcing.domain import Aggregate, event

from contracts import errors as e
from contracts.enterprise import ADMIN, APPROVED, REMOVED
from contracts.errors import DomainError, Forbidden, NotAMember, RoleNotCertified  # noqa: F401 (shared)

ACCESS_NAMESPACE = uuid.UUID("3c0b6c84-64a2-4f57-9d39-1b8f1f0c5a77")
ADMIN_OR_SELF = "Only the user themself or the enterprise's administrator may see this."
REGISTRATION = "registration:"  # membership key of the registrant, in case no association event names it


class UnknownSystem(DomainError):
    code = e.UNKNOWN_SYSTEM

    @classmethod
    def of(cls, unknown):
        return cls("Unknown business system code.", {"systems": [f"Unknown system code: {c}" for c in unknown]})


class EnterpriseAccess(Aggregate):
    @staticmethod
    def create_id(enterprise_id: str):
        return uuid.uuid5(ACCESS_NAMESPACE, enterprise_id)

    @event("Opened")
    def __init__(self, enterprise_id: str):
        self.enterprise_id = enterprise_id
        self.admin_user_id = None
        # what set the administrator: {"by": "registered"|"transferred", "aggregate_id", "version"}
        self.admin_source = None
        self.admin_certified = False  # 角色认证 of admin_user_id
        self.memberships = {}  # key (association_id) -> {"user_id", "role", "state": approved|removed}
        self.grants = {}  # user_id -> set of system codes granted explicitly
        self.granted_by = {}  # user_id -> {system: who granted it last}

    # -- queries -------------------------------------------------------------------------------
    def is_admin(self, user_id):
        return user_id is not None and user_id == self.admin_user_id

    def is_member(self, user_id):
        if self.is_admin(user_id):
            return True
        return any(m["user_id"] == user_id and m["state"] == APPROVED for m in self.memberships.values())

    def members(self):
        users = {m["user_id"] for m in self.memberships.values() if m["state"] == APPROVED}
        if self.admin_user_id:
            users.add(self.admin_user_id)
        return users

    def is_certified_admin(self, user_id):
        return self.is_admin(user_id) and self.admin_certified

    def granted(self, user_id):
        return self.grants.get(user_id, set())

    def allows(self, user_id, system):
        if self.is_admin(user_id):  # every system once certified, none before
            return self.admin_certified
        return system in self.grants.get(user_id, ())

    # -- invariants ----------------------------------------------------------------------------
    def check_admin(self, actor_user_id, refusal="Only the enterprise's administrator manages its permissions."):
        if not self.is_admin(actor_user_id):
            raise Forbidden(message=refusal)
        if not self.admin_certified:
            raise RoleNotCertified(message="企业管理员角色未认证: bind the enterprise's legal-person card (法人卡) "
                                           "to certify your administrator role (角色认证) before granting or "
                                           "reading others' permissions.",
                                   details={"role_certified": [False]})

    def check_member(self, user_id):
        if not self.is_member(user_id):
            raise NotAMember(message="The user is not an approved member of the enterprise.")

    def check_admin_or_self(self, actor_user_id, user_id):
        """Anyone reads their own permissions; another person's only the certified administrator (an
        uncertified one is 403 ROLE_NOT_CERTIFIED, as for granting)."""
        if actor_user_id != user_id:
            self.check_admin(actor_user_id, ADMIN_OR_SELF)

    # -- commands ------------------------------------------------------------------------------
    def set_grants(self, user_id, systems, actor_user_id):
        """Make the explicit grants of `user_id` exactly `systems`, recording only the differences."""
        current = self.granted(user_id)
        for system in sorted(set(systems) - current):
            self._granted(enterprise_id=self.enterprise_id, user_id=user_id, system=system,
                          actor_user_id=actor_user_id)
        for system in sorted(current - set(systems)):
            self._revoked(enterprise_id=self.enterprise_id, user_id=user_id, system=system,
                          actor_user_id=actor_user_id, reason="revoked")

    # -- learning from the enterprise service (order-independent, see module doc) ---------------
    def _newer(self, source_aggregate_id, source_version):
        current = self.admin_source
        return (current is None or current["aggregate_id"] != source_aggregate_id
                or source_version > current["version"])

    def _learn_admin(self, by, admin_user_id, certified, source_aggregate_id, source_version):
        if not self._newer(source_aggregate_id, source_version):
            return
        if (admin_user_id, certified) == (self.admin_user_id, self.admin_certified):
            self._admin_source_moved(source={"by": by, "aggregate_id": source_aggregate_id, "version": source_version})
            return
        self._admin_changed(enterprise_id=self.enterprise_id, admin_user_id=admin_user_id,
                            previous_admin_user_id=self.admin_user_id, role_certified=certified,
                            source={"by": by, "aggregate_id": source_aggregate_id, "version": source_version})

    def learn_registered(self, admin_user_id, source_aggregate_id, source_version):
        self._learn_admin("registered", admin_user_id, False, source_aggregate_id, source_version)
        key = REGISTRATION + admin_user_id
        if key not in self.memberships:
            self._member_joined(key=key, user_id=admin_user_id, role=ADMIN)

    def learn_approved(self, association_id, user_id, role):
        if association_id not in self.memberships:  # else a repeat, or removed already (tombstone)
            self._member_joined(key=association_id, user_id=user_id, role=role)

    def learn_transferred(self, from_user_id, to_user_id, source_aggregate_id, source_version):
        self._learn_admin("transferred", to_user_id, False, source_aggregate_id, source_version)

    def learn_certified(self, user_id, source_aggregate_id, source_version):
        self._learn_admin("certified", user_id, True, source_aggregate_id, source_version)

    def learn_uncertified(self, user_id, source_aggregate_id, source_version):
        """The legal-person card the administrator's certification rested on is gone: allowed nothing."""
        self._learn_admin("uncertified", user_id, False, source_aggregate_id, source_version)

    def learn_superseded(self, from_user_id, to_user_id, source_aggregate_id, source_version):
        """The card's holder replaced an uncertified administrator: every grant that one made is
        revoked (what they held goes with their membership, by MemberRemoved)."""
        self._learn_admin("superseded", to_user_id, False, source_aggregate_id, source_version)
        self._revoke_grants_by(from_user_id, to_user_id)

    def _revoke_grants_by(self, from_user_id, actor_user_id):
        for user_id in sorted(self.granted_by):
            for system in sorted(s for s, by in self.granted_by[user_id].items() if by == from_user_id):
                self._revoked(enterprise_id=self.enterprise_id, user_id=user_id, system=system,
                              actor_user_id=actor_user_id, reason="admin_superseded")

    def learn_removed(self, association_id, user_id, actor_user_id=None, reason=None, source_version=0):
        if reason == "superseded" and self.is_admin(user_id):
            # The administrator's account was superseded by the ID number's card holder (实名认证):
            # they stay recorded, certified no more, until the legal person claims the role.
            self._learn_admin("identity_superseded", user_id, False, association_id, source_version)
            self._revoke_grants_by(user_id, actor_user_id)
        # The registrant's own membership may be known only by its registration: it ends too.
        for key in (association_id, REGISTRATION + user_id):
            if self.memberships.get(key, {}).get("state") != REMOVED:
                self._member_left(key=key, user_id=user_id)
        if not self.is_member(user_id):
            for system in sorted(self.granted(user_id)):
                self._revoked(enterprise_id=self.enterprise_id, user_id=user_id, system=system,
                              actor_user_id=actor_user_id, reason="membership_ended")

    # -- events (those that leave the service carry the enterprise id: integration.py maps each alone)
    @event("MemberJoined")
    def _member_joined(self, key, user_id, role):
        self.memberships[key] = {"user_id": user_id, "role": role, "state": APPROVED}

    @event("MemberLeft")
    def _member_left(self, key, user_id):
        before = self.memberships.get(key, {})
        self.memberships[key] = {"user_id": user_id, "role": before.get("role"), "state": REMOVED}

    class AdminChanged(Aggregate.Event):
        """v2 adds `role_certified`: an administrator learnt before 角色认证 existed is uncertified."""
        class_version = 2
        enterprise_id: str
        admin_user_id: str
        previous_admin_user_id: str
        role_certified: bool
        source: dict

        @staticmethod
        def upcast_v1_v2(state):
            state["role_certified"] = False

    @event(AdminChanged)
    def _admin_changed(self, enterprise_id, admin_user_id, previous_admin_user_id, role_certified, source):
        self.admin_user_id = admin_user_id
        self.admin_certified = role_certified
        self.admin_source = source

    @event("AdminSourceMoved")
    def _admin_source_moved(self, source):
        self.admin_source = source

    @event("PermissionGranted")
    def _granted(self, enterprise_id, user_id, system, actor_user_id):
        self.grants.setdefault(user_id, set()).add(system)
        self.granted_by.setdefault(user_id, {})[system] = actor_user_id

    @event("PermissionRevoked")
    def _revoked(self, enterprise_id, user_id, system, actor_user_id, reason):
        held = self.grants.get(user_id)
        if held is not None:
            held.discard(system)
            if not held:
                del self.grants[user_id]
        by = self.granted_by.get(user_id)
        if by is not None:
            by.pop(system, None)
            if not by:
                del self.granted_by[user_id]

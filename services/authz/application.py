"""The authz application: grants per (enterprise, member), learnt membership, and fast checks."""
import threading

from contracts import enterprise as ent
from services.common.application import ServiceApplication, retry_on_conflict
from services.common.personal_data import history, mentioning, plain
from services.common.commands import command

from .catalogue import catalogue
from .domain import ADMIN_OR_SELF, EnterpriseAccess, Forbidden
from .projection import AccessProjection

CONSUMER = "authz"
MAX_ATTEMPTS = 20  # optimistic-concurrency retries of one command or event on one enterprise
LOCK_STRIPES = 64

_LEARNT = {et.name: et for et in (ent.ENTERPRISE_REGISTERED, ent.ASSOCIATION_APPROVED,
                                  ent.ADMIN_TRANSFERRED, ent.MEMBER_REMOVED, ent.ROLE_CERTIFIED,
                                  ent.ADMIN_SUPERSEDED, ent.ROLE_CERTIFICATION_LOST)}
LEARNT_TYPES = frozenset(_LEARNT)


class StripedLocks:
    """A fixed set of locks, one chosen per key: as many as ever, however many enterprise ids callers
    make up (ids in paths that exist nowhere), at the price of two enterprises sometimes sharing one."""

    def __init__(self, stripes=LOCK_STRIPES):
        self._locks = tuple(threading.Lock() for _ in range(stripes))

    def __getitem__(self, key):
        return self._locks[hash(key) % len(self._locks)]

    def __len__(self):
        return len(self._locks)


class AuthzApplication(ServiceApplication):
    service_name = "authz"
    # Commands reload the enterprise's aggregate: the cache makes that "fetch only newer events".
    env = {"AGGREGATE_CACHE_MAXSIZE": "10000"}

    def __init__(self, env=None):
        super().__init__(env)
        self.catalogue = catalogue()
        # One writer per enterprise in this process: concurrent workers on one enterprise would
        # only conflict and retry; other processes still conflict safely on the aggregate version.
        self._enterprise_locks = StripedLocks()
        self._projection_swap = threading.Lock()
        self.projection = AccessProjection(self)
        self.projection.catch_up()

    def _notify(self, recordings):
        with self._projection_swap:
            self.projection.catch_up()  # before the command returns: visible to the next check
        super()._notify(recordings)

    def swap_projection(self, rebuilt):
        """`rebuilt` serves the checks from now on, caught up with every save that notified
        (services/authz/rebuild.py); returns its position."""
        with self._projection_swap:
            rebuilt.catch_up()
            self.projection = rebuilt
        return rebuilt.position

    # -- helpers -------------------------------------------------------------------------------
    def _load(self, enterprise_id):
        return self.find(EnterpriseAccess.create_id(enterprise_id), EnterpriseAccess)

    def _view(self, access, user_id):
        if access is None:
            return {"systems": [], "granted": [], "admin": False, "role_certified": False}
        if access.is_admin(user_id):  # every system once certified, none before
            effective = self.catalogue.codes if access.admin_certified else ()
        else:
            effective = access.granted(user_id)
        return {"systems": self.catalogue.ordered(effective),
                "granted": self.catalogue.ordered(access.granted(user_id)),
                "admin": access.is_admin(user_id), "role_certified": access.is_certified_admin(user_id)}

    # -- catalogue -----------------------------------------------------------------------------
    def list_systems(self):
        return [{"code": s["code"], "name": s["name"], "name_en": s.get("name_en")}
                for s in self.catalogue.systems]

    # -- commands ------------------------------------------------------------------------------
    @command
    def set_permissions(self, run, actor_user_id, enterprise_id, user_id, systems):
        """Make the member's explicit grants exactly `systems`; only the administrator may."""
        def attempt():
            access = self._load(enterprise_id)
            if access is None:
                raise Forbidden(message="Only the enterprise's administrator manages its permissions.")
            access.check_admin(actor_user_id)
            codes = self.catalogue.validate(systems)
            access.check_member(user_id)
            access.set_grants(user_id, codes, actor_user_id)
            answer = self._view(access, user_id)
            run.save(access, answer=answer)  # another instance changed the enterprise meanwhile: decide again
            return answer

        with self._enterprise_locks[enterprise_id]:
            return retry_on_conflict(attempt, tries=MAX_ATTEMPTS)

    def learn(self, envelope):
        """Apply one enterprise event; False when it was a repeat or not one authz learns from."""
        et = _LEARNT.get(envelope["event_type"])
        if et is None or envelope["source"] != ent.SOURCE:
            return False
        src = (envelope["aggregate_id"], envelope["aggregate_version"])

        def effect(p):
            access = self._load(p["enterprise_id"]) or EnterpriseAccess(enterprise_id=p["enterprise_id"])
            if et is ent.ENTERPRISE_REGISTERED:
                access.learn_registered(p["admin_user_id"], *src)
            elif et is ent.ASSOCIATION_APPROVED:
                access.learn_approved(p["association_id"], p["user_id"], p["role"])
            elif et is ent.ADMIN_TRANSFERRED:
                access.learn_transferred(p["from_user_id"], p["to_user_id"], *src)
            elif et is ent.ROLE_CERTIFIED:
                access.learn_certified(p["user_id"], *src)
            elif et is ent.ADMIN_SUPERSEDED:
                access.learn_superseded(p["from_user_id"], p["to_user_id"], *src)
            elif et is ent.ROLE_CERTIFICATION_LOST:
                access.learn_uncertified(p["user_id"], *src)
            else:
                access.learn_removed(p["association_id"], p["user_id"], envelope.get("actor_user_id"),
                                     p.get("reason"), envelope["aggregate_version"])
            return [access]

        # One writer per enterprise here too; a payload without one is only recorded as processed.
        with self._enterprise_locks[str(envelope["payload"].get("enterprise_id"))]:
            return self.consume(CONSUMER, envelope, et.payload, effect, tries=MAX_ATTEMPTS)

    # -- queries (from the projection) ---------------------------------------------------------
    def check(self, user_id, enterprise_id, system):
        return self.projection.allows(user_id, enterprise_id, system)

    def check_as(self, actor_user_id, user_id, enterprise_id, system):
        """The HTTP check: only for oneself or as the enterprise's administrator."""
        access = self._readable_by(actor_user_id, enterprise_id, user_id)
        self.catalogue.validate([system])
        return access is not None and access.allows(user_id, system)

    def get_permissions(self, actor_user_id, enterprise_id, user_id):
        return self._view(self._readable_by(actor_user_id, enterprise_id, user_id), user_id)

    def _readable_by(self, actor_user_id, enterprise_id, user_id):
        """The enterprise's access (None: unknown here), once `actor_user_id` may read `user_id`'s in it."""
        access = self.projection.get(enterprise_id)
        if access is not None:
            access.check_admin_or_self(actor_user_id, user_id)
        elif actor_user_id != user_id:
            raise Forbidden(message=ADMIN_OR_SELF)
        return access

    def personal_data(self, user_id):
        """authz's part of a person's export: in each enterprise that knows them, their memberships,
        systems and grants (who granted each), and the events of its access that name them."""
        self.projection.catch_up()
        found = []
        for enterprise_id, access in sorted(self.projection.by_enterprise.items()):
            memberships = [m for m in access.memberships.values() if m["user_id"] == user_id]
            if not memberships and user_id not in access.grants and not access.is_admin(user_id):
                continue
            found.append({"enterprise_id": enterprise_id, **self._view(access, user_id), "memberships": memberships,
                          "granted_by": access.granted_by.get(user_id, {}),
                          "history": mentioning(history(self, access.id), user_id)})
        return {"grants": plain(found)}

    def systems_of_members(self, enterprise_id):
        access = self.projection.get(enterprise_id)
        if access is None:
            return {}
        return {user_id: self._view(access, user_id)["systems"] for user_id in sorted(access.members())}

    def admin_of(self, enterprise_id):
        access = self.projection.get(enterprise_id)
        return None if access is None else access.admin_user_id

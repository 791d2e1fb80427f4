"""The authz application: grants per (enterprise, member), learnt membership, and fast checks."""
import logging
import threading
from collections import defaultdict

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from marshmallow import EXCLUDE, ValidationError

from contracts import enterprise as ent
from services.common.application import ServiceApplication

from .catalogue import catalogue
from .domain import EnterpriseAccess, Forbidden
from .projection import AccessProjection

log = logging.getLogger(__name__)

CONSUMER = "authz"
MAX_ATTEMPTS = 20  # optimistic-concurrency retries of one command or event on one enterprise

_LEARNT = {et.name: et for et in (ent.ENTERPRISE_REGISTERED, ent.ASSOCIATION_APPROVED,
                                  ent.ADMIN_TRANSFERRED, ent.MEMBER_REMOVED)}


class AuthzApplication(ServiceApplication):
    service_name = "authz"
    # Commands reload the enterprise's aggregate: the cache makes that "fetch only newer events".
    env = {"AGGREGATE_CACHE_MAXSIZE": "10000"}

    def __init__(self, env=None):
        super().__init__(env)
        self.catalogue = catalogue()
        # One writer per enterprise in this process: concurrent workers on one enterprise would
        # only conflict and retry; other processes still conflict safely on the aggregate version.
        self._enterprise_locks = defaultdict(threading.Lock)
        self.projection = AccessProjection(self)
        self.projection.catch_up()

    def _notify(self, recordings):
        self.projection.catch_up()  # before the command returns: visible to the next check
        super()._notify(recordings)

    # -- helpers -------------------------------------------------------------------------------
    def _load(self, enterprise_id):
        try:
            return self.repository.get(EnterpriseAccess.create_id(enterprise_id))
        except AggregateNotFoundError:
            return None

    def _load_or_open(self, enterprise_id):
        return self._load(enterprise_id) or EnterpriseAccess(enterprise_id=enterprise_id)

    def _view(self, access, user_id):
        if access is None:
            return {"systems": [], "granted": [], "admin": False}
        effective = self.catalogue.codes if access.is_admin(user_id) else access.granted(user_id)
        return {"systems": self.catalogue.ordered(effective),
                "granted": self.catalogue.ordered(access.granted(user_id)),
                "admin": access.is_admin(user_id)}

    # -- catalogue -----------------------------------------------------------------------------
    def list_systems(self):
        return [{"code": s["code"], "name": s["name"], "name_en": s.get("name_en")}
                for s in self.catalogue.systems]

    # -- commands ------------------------------------------------------------------------------
    def set_permissions(self, actor_user_id, enterprise_id, user_id, systems):
        """Make the member's explicit grants exactly `systems`; only the administrator may."""
        with self._enterprise_locks[enterprise_id]:
            for _ in range(MAX_ATTEMPTS):
                access = self._load(enterprise_id)
                if access is None:
                    raise Forbidden(message="Only the enterprise's administrator manages its permissions.")
                access.check_admin(actor_user_id)
                codes = self.catalogue.validate(systems)
                access.check_member(user_id)
                access.set_grants(user_id, codes, actor_user_id)
                try:
                    self.save(access)
                except IntegrityError:  # another instance changed the enterprise: decide again
                    continue
                return self._view(access, user_id)
        raise RuntimeError(f"set_permissions: {MAX_ATTEMPTS} version conflicts on one enterprise")

    def learn(self, envelope):
        """Apply one enterprise event; False when it was a repeat or not one authz learns from."""
        et = _LEARNT.get(envelope["event_type"])
        if et is None or envelope["source"] != ent.SOURCE:
            return False
        try:
            p = et.payload().load(envelope["payload"], unknown=EXCLUDE)
        except ValidationError as exc:  # would fail forever: record it as processed, say so loudly
            log.error("ignoring %s %s with an invalid payload: %s", et.name, envelope["event_id"], exc.messages)
            return self.save_processed(CONSUMER, envelope["event_id"])
        src = (envelope["aggregate_id"], envelope["aggregate_version"])
        with self._enterprise_locks[p["enterprise_id"]]:
            for _ in range(MAX_ATTEMPTS):
                if self.is_processed(CONSUMER, envelope["event_id"]):
                    return False
                access = self._load_or_open(p["enterprise_id"])
                if et is ent.ENTERPRISE_REGISTERED:
                    access.learn_registered(p["admin_user_id"], *src)
                elif et is ent.ASSOCIATION_APPROVED:
                    access.learn_approved(p["association_id"], p["user_id"], p["role"])
                elif et is ent.ADMIN_TRANSFERRED:
                    access.learn_transferred(p["from_user_id"], p["to_user_id"], *src)
                else:
                    access.learn_removed(p["association_id"], p["user_id"], envelope.get("actor_user_id"))
                if self.save_processed(CONSUMER, envelope["event_id"], access):
                    return True
                # False: a repeat (seen at the top of the next round) or a version conflict: again
        raise RuntimeError(f"learn: {MAX_ATTEMPTS} version conflicts on one enterprise")

    # -- queries (from the projection) ---------------------------------------------------------
    def check(self, user_id, enterprise_id, system):
        return self.projection.allows(user_id, enterprise_id, system)

    def check_as(self, actor_user_id, user_id, enterprise_id, system):
        """The HTTP check: only for oneself or as the enterprise's administrator."""
        access = self.projection.get(enterprise_id)
        if actor_user_id != user_id and (access is None or not access.is_admin(actor_user_id)):
            raise Forbidden(message="Only the user themself or the enterprise's administrator may check.")
        self.catalogue.validate([system])
        return access is not None and access.allows(user_id, system)

    def get_permissions(self, actor_user_id, enterprise_id, user_id):
        access = self.projection.get(enterprise_id)
        if access is None:
            if actor_user_id != user_id:
                raise Forbidden(message="Only the user themself or the enterprise's administrator may see this.")
        else:
            access.check_admin_or_self(actor_user_id, user_id)
        return self._view(access, user_id)

    def systems_of_members(self, enterprise_id):
        access = self.projection.get(enterprise_id)
        if access is None:
            return {}
        return {user_id: self._view(access, user_id)["systems"] for user_id in sorted(access.members())}

    def admin_of(self, enterprise_id):
        access = self.projection.get(enterprise_id)
        return None if access is None else access.admin_user_id

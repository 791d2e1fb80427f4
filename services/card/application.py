"""The card service's Application: challenges, binding, unbinding, card login, and the queries the
gateway needs. Commands and queries take and return simple types (str ids, dicts).

The commands live in mixins by subject: challenges.py (challenges and the proof of a card),
bindings.py (binding and unbinding), admin_claims.py (角色认证 with the legal-person card),
logins.py (card login), validity.py (bound legal-person cards revoked or expired are unbound),
identity_claims.py (实名认证: a claim of the ID number); the input checks in inputs.py.

Retries (services/common/commands.py): binding, claiming and card login spend their challenge
first, then ask other services (enterprise certifies or claims, identity makes the session), then
save the binding or answer: a death between those saves is resumed by the retry with the same
command id (`@command(resumable=True)`), which finds the challenge spent by itself (`run.resuming`), and the
other services, asked under the same command id, answer what they answered.
"""
import hashlib
import hmac
import logging
import time

from eventsourcing.utils import get_topic

from contracts import enterprise as ent
from contracts.identity import USER_ERASED
from contracts.masking import ERASED

from services.common.application import ServiceApplication, retry_on_conflict
from services.common.settings import secret
from services.common.store_deletion import delete_aggregate

from .admin_claims import AdminClaims
from .bindings import Bindings
from .challenges import Challenges
from .domain import BindingList, CardBinding, CardIndex
from .identity_claims import IdentityClaims
from .logins import Logins
from .personal_data import personal_data
from .trust import TrustAnchor, challenge_ttl
from .validity import Validity

CONSUMER = "card"
# (consumer, event id) of the processed mark saying the start-up move of legacy card indexes has run through
LEGACY_INDEXES_MOVED = ("card start-up", "legacy card indexes moved to keyed ids")
log = logging.getLogger(__name__)


class CardApplication(Challenges, Bindings, AdminClaims, Logins, IdentityClaims, Validity, ServiceApplication):
    service_name = "card"
    snapshotting_intervals = {CardIndex: 20, CardBinding: 20, BindingList: 50}

    def __init__(self, env=None, *, clock=time.time, trust=None, ttl=None):
        super().__init__(env)
        self.clock = clock
        self.trust = trust if trust is not None else TrustAnchor.from_env()
        self.ttl = ttl if ttl is not None else challenge_ttl()
        self._start_validity()
        self.migrate_legacy_indexes()
        # Its own key, derived from the index key: no new secret to distribute.
        self._login_key = hmac.new(secret("EPORT_INDEX_KEY").encode(), b"card login challenges",
                                   hashlib.sha256).digest()

    # -- loading ----------------------------------------------------------------------------
    def _binding(self, user_id, enterprise_id):
        return self.find(CardBinding.create_id(user_id, enterprise_id), CardBinding)

    def _index(self, card_no):
        """The card's index, or None; one still under its legacy id reads as moved (not saved here)."""
        return self._index_moved(card_no)[0]

    def _index_moved(self, card_no):
        """(the card's index or None, the aggregates a save of it must save too). The index is looked
        up under the keyed id, then under the legacy one (a store written before): found there, it
        comes back moved to the keyed id, with the legacy index marked Moved to save with it; once
        that save is recorded the legacy index is deleted (`_record`)."""
        index = self.find(CardIndex.create_id(card_no), CardIndex)
        if index is not None:
            return index, []
        legacy = self.find(CardIndex.legacy_id(card_no), CardIndex)
        if legacy is None or getattr(legacy, "moved", False):
            return None, []
        return CardIndex.moved_from(legacy), [legacy]

    def _record(self, processing_event):
        recordings = super()._record(processing_event)
        for aggregate in list(processing_event.aggregates.values()):
            if isinstance(aggregate, CardIndex) and getattr(aggregate, "moved", False):
                self._delete_legacy(aggregate.id)
        return recordings

    def _delete_legacy(self, legacy_id):
        """The legacy index's events and snapshots deleted (its id is the uuid5 of the plain number) and
        its subject's key retired (what it sealed moved under the keyed id's key; spent login challenges
        sealed for it read `[已删除]`)."""
        delete_aggregate(self, legacy_id)
        self.mapper.keys.retire(legacy_id)  # no tombstone named by the legacy id either

    def migrate_legacy_indexes(self):
        """Every card index still under its legacy id moved to its keyed id and deleted, once per store: at
        the first start of an upgraded card instance (an operator migrates a store by starting the upgraded
        service); the number moved. The scan reads every CardIndex Registered event, so once it has run
        through, a mark in the store (LEGACY_INDEXES_MOVED, the processed mark of `consume`) says so and
        later starts read nothing. Idempotent, and safe beside running instances (a move conflicts like any
        save of it): two instances starting at once both scan, and the mark of the second conflicts with the
        first's (save_processed answers False), which is what it would have written. A legacy index written
        after the mark (an instance not yet upgraded) moves at its next change (`_index_moved`)."""
        if self.is_processed(*LEGACY_INDEXES_MOVED):
            return 0
        moved = 0
        for card_no, index_id in self._registered_indexes():
            if index_id == CardIndex.legacy_id(card_no):  # else keyed already
                moved += retry_on_conflict(lambda card_no=card_no, index_id=index_id: self._move(card_no, index_id))
        self.save_processed(*LEGACY_INDEXES_MOVED)  # only once the scan went through: a death before scans again
        return moved

    def _move(self, card_no, legacy_id):
        legacy = self.find(legacy_id, CardIndex)
        if legacy is None:
            return 0
        if getattr(legacy, "moved", False):  # moved by a save that did not get to delete it
            self._delete_legacy(legacy_id)
            return 0
        index, moved = self._index_moved(card_no)
        if not moved:  # a keyed index too: old and upgraded instances wrote at once (stop the old first)
            log.error("card index %s: a legacy index beside its keyed one, left for an operator", index.id)
            return 0
        self.save(index, *moved)  # and _record deletes the legacy one
        return 1

    def _registered_indexes(self):
        """(card number, index id) of every CardIndex Registered event in the store."""
        topic, start = get_topic(CardIndex.Registered), 1
        while True:
            found = self.recorder.select_notifications(start=start, limit=500, topics=[topic])
            for notification in found:
                event = self.mapper.to_domain_event(notification)
                if isinstance(event.card_no, str):  # else unreadable (its key destroyed): nothing to compare
                    yield event.card_no, event.originator_id
            if len(found) < 500:
                return
            start = found[-1].id + 1

    def _list(self, key):
        return self.find(BindingList.create_id(key), BindingList) or BindingList(key=key)

    # -- events of other services -------------------------------------------------------------
    def learn(self, envelope):
        """Apply one enterprise event (MemberRemoved unbinds the member's card); False when it was a
        repeat or changed nothing."""
        if envelope.get("source") != ent.SOURCE or envelope.get("event_type") != ent.MEMBER_REMOVED.name:
            return False

        def effect(p):
            binding = self._binding(p["user_id"], p["enterprise_id"])
            # Only the card of the association that ended: after a new association the member may
            # have bound a card again, which a late or repeated old event must not touch.
            if binding is None or not binding.bound or binding.association_id != p["association_id"]:
                return []
            return self._unbind(binding, reason="membership_ended", by_user_id=envelope.get("actor_user_id"))

        return self.consume(CONSUMER, envelope, ent.MemberRemovedPayload, effect)

    def unbind_erased(self, envelope):
        """identity's UserErased: the key of every card the person ever bound destroyed (the card's number
        sealed in its index and spent login challenges), then every card of theirs unbound (reason
        erased), so that the card is free for its holder's next account, who claims it under a key of
        their own (services/common/erasure.py runs this first, while the person's key still opens the card
        numbers of their bindings). False for a repeat or no change.

        The keys go inside the effect, as every effect of a consumer does: once the processed mark is recorded
        they are gone (destroyed before the save), and a repeat (a redelivery: UserErased is acknowledged only
        once identity has the confirmation) neither reads the person's bindings again nor rewrites the cards'
        tombstones. A destruction is no store write: a save that conflicts, or a death before it, runs the
        effect again, and destroying is idempotent."""

        def effect(p):
            for card_no in self._cards_ever_bound(p["user_id"]):
                self.mapper.keys.destroy(CardIndex.create_id(card_no))
            changed = []
            for enterprise_id in self._list(f"user:{p['user_id']}").items:
                binding = self._binding(p["user_id"], enterprise_id)
                if binding is not None and binding.bound:
                    changed += self._unbind(binding, reason="erased", by_user_id=p["user_id"])
            return changed

        return self.consume(CONSUMER, envelope, USER_ERASED.payload, effect)

    def _cards_ever_bound(self, user_id):
        """The numbers of the cards `user_id` bound, from their bindings' events (their key opens them)."""
        found = set()
        for enterprise_id in self._list(f"user:{user_id}").items:
            binding_id = CardBinding.create_id(user_id, enterprise_id)
            for event in self.repository.event_store.get(binding_id):
                if isinstance(event, CardBinding.Bound) and isinstance(event.card_no, str) \
                        and event.card_no != ERASED:
                    found.add(event.card_no)
        return sorted(found)

    # -- queries ------------------------------------------------------------------------------
    def cards_of_user(self, user_id):
        """{enterprise_id: {card_no, card_type, bound_at}} of the user's bound cards."""
        found = {}
        for enterprise_id in self._list(f"user:{user_id}").items:
            binding = self._binding(user_id, enterprise_id)
            if binding is not None and binding.bound:
                found[enterprise_id] = binding.view()
        return found

    def personal_data(self, user_id):
        """card's part of the export of `user_id` (personal_data.py)."""
        return personal_data(self, user_id)

    def cards_of_enterprise(self, enterprise_id):
        """{user_id: {card_no, card_type, bound_at}} of the enterprise's bound cards."""
        found = {}
        for user_id in self._list(f"enterprise:{enterprise_id}").items:
            binding = self._binding(user_id, enterprise_id)
            if binding is not None and binding.bound:
                found[user_id] = binding.view()
        return found

"""A card's index id is keyed (uuid5 of the card number's HMAC with EPORT_INDEX_KEY, services/common/digests.py),
and indexes under the legacy id (uuid5 of the plain number) of a store written before are moved to it and
deleted: a copy of the store then confirms no card number (services/card/application.py). On the real SQLite
store, whose ids a reader sees without any key."""
import base64
import uuid
from types import SimpleNamespace

import pytest
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import get_topic

from contracts.masking import ERASED
from services.card.application import LEGACY_INDEXES_MOVED, CardApplication
from services.card.domain import KEYED_CARD_INDEX_NAMESPACE, CardAlreadyBound, CardIndex, LoginChallengeSpent
from services.common.application import ProcessedEvent
from services.common.bootstrap import person_keys
from services.common.digests import Digests
from services.common.erasure import ErasureFollower
from services.common.person_keys import PersonKeys
from services.common.settings import secret
from tests import card_support as cards
from tests.card_support import Trust, before_keyed_card_ids, bind, login, new_card, stored_ids
from tests.unit.test_card_erasure import user_erased

pytestmark = pytest.mark.unit
ca, clock, peers = cards.ca, cards.clock, cards.peers  # the fixtures
CARD_NO = "8800000012345"


@pytest.fixture
def store(monkeypatch, fresh_var, ca, clock):
    """make() a CardApplication on the SQLite store of a var/ of this test alone; `.file` that store."""
    monkeypatch.setenv("EVENT_STORE", "sqlite")

    def make():
        return CardApplication(clock=clock, trust=Trust(ca), ttl=120)

    make.file = fresh_var / "card.db"
    return make


def written_before(store, peers, card, user_id="u-old", enterprise_id="e-old"):
    """The card bound to (user_id, enterprise_id) by the card service before keyed ids; its legacy index id."""
    with before_keyed_card_ids():
        peers.add(user_id, enterprise_id, role="user")
        old = store()
        bind(old, peers, user_id, enterprise_id, card)
        login(old, peers, card)  # a spent login challenge, its card number sealed for the legacy subject
    legacy = CardIndex.legacy_id(card.card_no)
    assert legacy in stored_ids(store.file)  # the premise: the old layout, the plain number's uuid5
    return legacy


def test_the_index_id_is_the_keyed_digest_of_the_card_number_never_its_uuid5(store, peers, ca, monkeypatch):
    app, card = store(), new_card(ca)
    peers.add("u1", "e1", role="user")
    bind(app, peers, "u1", "e1", card)
    ids = stored_ids(store.file)
    keyed = uuid.uuid5(KEYED_CARD_INDEX_NAMESPACE, Digests(secret("EPORT_INDEX_KEY")).of("card_no", card.card_no))
    assert keyed in ids and CardIndex.legacy_id(card.card_no) not in ids
    # and the card's subject (whose key seals its number) is that id: no key file named by the plain number
    assert str(keyed) in person_keys("card").persons()
    assert str(CardIndex.legacy_id(card.card_no)) not in person_keys("card").persons()
    monkeypatch.setenv("EPORT_INDEX_KEY", "ab" * 32)  # another key: another id, so the id needs the key
    assert CardIndex.create_id(card.card_no) != keyed


def test_a_card_bound_before_stays_taken_by_its_holder_after_the_upgrade(store, peers, ca):
    card = new_card(ca)
    written_before(store, peers, card)
    upgraded = _without_startup_move(store)
    peers.add("u-new", "e-new", role="user")
    with pytest.raises(CardAlreadyBound):
        bind(upgraded, peers, "u-new", "e-new", card)
    assert login(upgraded, peers, card)["user_id"] == "u-old"  # its pinned certificate still logs in


def _without_startup_move(store):
    """The upgraded service's lookup alone: its start-up move kept from running (as when an instance not yet
    upgraded writes a legacy index after the upgraded one started)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CardApplication, "migrate_legacy_indexes", lambda self: 0)
        return store()


def test_the_start_up_moves_a_legacy_index_to_its_keyed_id_and_deletes_it(store, peers, ca):
    card = new_card(ca)
    legacy = written_before(store, peers, card)
    app = store()  # the upgraded service starts
    ids = stored_ids(store.file)
    assert legacy not in ids and CardIndex.create_id(card.card_no) in ids
    assert person_keys("card").find(legacy) is None  # its key gone: what it sealed moved under the keyed id
    # and no file of the key folder is named by it (its tombstone is named by a keyed digest)
    assert not [p.name for p in person_keys("card").folder.iterdir() if str(legacy) in p.name or legacy.hex in p.name]
    spent = app.recorder.select_notifications(start=1, limit=100, topics=[get_topic(LoginChallengeSpent.Spent)])
    assert [app.mapper.to_domain_event(n).card_no for n in spent] == [ERASED]  # what it sealed reads as erased
    assert app.personal_data("u-old")["card_bindings"]  # and the export, which reads them all, works
    index = app.find(CardIndex.create_id(card.card_no), CardIndex)
    assert (index.user_id, index.enterprise_id, index.card_no) == ("u-old", "e-old", card.card_no)
    assert [type(e).__name__ for e in app.repository.event_store.get(index.id)] == ["Registered", "MovedIn"]
    peers.add("u-new", "e-new", role="user")
    with pytest.raises(CardAlreadyBound):
        bind(app, peers, "u-new", "e-new", card)
    assert login(app, peers, card)["user_id"] == "u-old"
    assert app.migrate_legacy_indexes() == 0  # once


def index_events_read(monkeypatch):
    """The CardIndex Registered notifications read from the SQLite store from now on (the start-up move's
    scan is their one reader), as a list that grows."""
    read, select = [], SQLiteApplicationRecorder.select_notifications

    def counted(recorder, *args, **kwargs):
        found = select(recorder, *args, **kwargs)
        if list(kwargs.get("topics") or ()) == [get_topic(CardIndex.Registered)]:
            read.extend(found)
        return found

    monkeypatch.setattr(SQLiteApplicationRecorder, "select_notifications", counted)
    return read


def test_the_start_up_move_runs_once_per_store_and_a_later_start_reads_no_index_event(store, peers, ca, monkeypatch):
    read = index_events_read(monkeypatch)
    written_before(store, peers, new_card(ca, card_no="8800000020000"))
    store()  # the first upgraded start scans the store and moves the legacy index
    assert len(read) == 1
    read.clear()
    for n in range(30):  # cards bound since: every start used to read all their indexes again
        peers.add(f"u{n}", "e1", role="user")
        bind(store(), peers, f"u{n}", "e1", new_card(ca, card_no=f"88000000{20001 + n}"))
    assert read == []
    late = new_card(ca, card_no="8800000020100")  # written by an instance not yet upgraded, after the first start
    legacy = written_before(store, peers, late, user_id="u-late", enterprise_id="e-late")
    app = store()
    assert read == []  # no start after the first reads the indexes
    assert legacy in stored_ids(store.file)  # so this one waits for its next change (lookup: still its holder's)
    peers.add("u-new", "e-new", role="user")
    with pytest.raises(CardAlreadyBound):
        bind(app, peers, "u-new", "e-new", late)
    app.unbind("u-late", "e-late")
    assert legacy not in stored_ids(store.file)


def test_two_instances_starting_at_once_both_start_and_the_move_is_done_once(store, peers, ca, monkeypatch):
    card = new_card(ca)
    legacy = written_before(store, peers, card)
    scan, other = CardApplication._registered_indexes, []

    def scan_while_another_starts(self):
        found = list(scan(self))  # this instance has read the indexes: another one starts, moves and marks
        if not other:
            other.append("starting")
            other[0] = store()
        return iter(found)

    monkeypatch.setattr(CardApplication, "_registered_indexes", scan_while_another_starts)
    first = store()  # its moves find the legacy index gone, its mark conflicts with the other's: it starts
    assert isinstance(other[0], CardApplication)
    assert legacy not in stored_ids(store.file)
    mark = ProcessedEvent.create_id(*LEGACY_INDEXES_MOVED)
    assert [type(e).__name__ for e in first.repository.event_store.get(mark)] == ["Processed"]
    for app in (first, other[0]):
        index = app.find(CardIndex.create_id(card.card_no), CardIndex)
        assert (index.user_id, index.enterprise_id) == ("u-old", "e-old")
    assert login(first, peers, card)["user_id"] == "u-old"


def test_the_first_change_moves_a_legacy_index_and_no_id_in_the_store_confirms_the_number(store, peers, ca):
    card = new_card(ca)
    legacy = written_before(store, peers, card)
    app = _without_startup_move(store)
    app.unbind("u-old", "e-old")  # its release is saved under the keyed id
    assert legacy not in stored_ids(store.file)
    peers.add("u-new", "e-new", role="user")
    bind(app, peers, "u-new", "e-new", card)  # free again, for its holder's other account
    # whoever holds the store file and hashes candidate card numbers finds none of them
    candidates = [f"88000000{n:05d}" for n in range(12000, 12400)]
    assert not {CardIndex.legacy_id(c) for c in candidates} & stored_ids(store.file)


def test_the_erasure_of_a_legacy_cards_holder_frees_the_card_and_leaves_no_legacy_id(store, peers, ca):
    card = new_card(ca)
    legacy = written_before(store, peers, card)
    app = _without_startup_move(store)
    assert app.unbind_erased(user_erased("u-old")) is True
    assert legacy not in stored_ids(store.file)
    peers.add("u-next", "e-old", role="user")
    bind(app, peers, "u-next", "e-old", card)  # the holder's next account
    assert list(app.cards_of_user("u-next")) == ["e-old"]


def test_an_erasure_destroys_the_key_of_each_card_of_the_person_and_the_next_holder_claims_it_anew(store, peers, ca):
    """What sealed the card's number goes with its holder; the pinned certificate of a claim is its
    claimant's, so the card's next account logs in with it, from events and from a snapshot alike."""
    app, card = store(), new_card(ca)
    peers.add("u-gone", "e1", role="user")
    bind(app, peers, "u-gone", "e1", card)
    index_id = CardIndex.create_id(card.card_no)
    assert app.unbind_erased(user_erased("u-gone")) is True
    person_keys("card").destroy("u-gone")  # the saga's next step (services/common/erasure.py)
    assert person_keys("card").erased(index_id)
    assert store().find(index_id, CardIndex).card_no == ERASED  # a fresh instance reads the store
    peers.add("u-next", "e1", role="user")
    bind(app, peers, "u-next", "e1", card)
    assert login(store(), peers, card)["user_id"] == "u-next"
    app.take_snapshot(index_id)
    assert login(store(), peers, card)["user_id"] == "u-next"  # from the snapshot: sealed for its claimant too


def test_every_card_instance_forgets_every_cached_key_on_an_erasure(store, peers, ca):
    """Another instance destroyed the card's key (its erasure); this one holds it in its cache, and the
    broadcast names the person, not their cards: card's follower drops every key it caches."""
    store()  # the key store of this var/
    card_subject = CardIndex.create_id("8800000012345")
    here = person_keys("card")
    here.key_for(card_subject)
    other_instance = PersonKeys("card", here.folder.parent, [base64.b64decode(secret("EPORT_PII_KEK"))])
    other_instance.destroy(card_subject)
    assert here.find(card_subject) is not None  # stale: cached
    follower = ErasureFollower("card", forget_every_key=True)
    follower.container = SimpleNamespace(dependencies=[])
    assert follower.get_dependency(None).forget(user_erased("u-gone")) is True
    assert here.find(card_subject) is None and here.erased(card_subject)

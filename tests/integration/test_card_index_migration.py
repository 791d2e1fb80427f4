"""Card index ids keyed with EPORT_INDEX_KEY, on the real card service (real RabbitMQ, SQLite, gateway; the
stand-ins of tests/integration/test_card_service.py for identity and enterprise): a card bound before the
upgrade, under the legacy id (uuid5 of the plain card number), stays its holder's and nobody else binds it;
the service moves it to its keyed id, at start-up or at its next change, and afterwards no id in the store
file confirms a card number."""
import pytest

from eport_card.devca import load_ca
from services.card.domain import CardIndex
from services.card.trust import ensure_dev_ca
from tests.card_support import Trust, before_keyed_card_ids, stored_ids
from tests.card_support import bind as bind_in_app
from tests.integration.test_card_service import ENTERPRISE, OTHER_ENTERPRISE, bind, card_login, new_card, starter
from tests.peers import FakeCardPeers
from tests.support import own_vhost, refusal

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def card_amqp_uri():
    with own_vhost("eport-card-index") as uri:
        yield uri


@pytest.fixture
def card_platform(container_factory, config, card_amqp_uri, fresh_var, monkeypatch):
    """start() the card service (and the gateway and stand-ins) on this test's var/; `.ca` its development CA."""
    start = starter(container_factory, config, card_amqp_uri, fresh_var, monkeypatch)
    start.store_file = fresh_var / "card.db"
    return start


def bound_by_the_service_before_the_upgrade(card_platform, card, user_id="u-zhang", enterprise_id=ENTERPRISE):
    """The card bound in the card store as the service did before keyed ids (as a store written then, or an
    instance not upgraded yet, has it); its legacy index id."""
    peers = FakeCardPeers()
    peers.add(user_id, enterprise_id, role="user")
    with before_keyed_card_ids():
        from services.card.application import CardApplication
        bind_in_app(CardApplication(trust=Trust(card_platform.ca), ttl=120), peers, user_id, enterprise_id, card)
    legacy = CardIndex.legacy_id(card.card_no)
    assert legacy in stored_ids(card_platform.store_file)  # the premise: the old layout
    return legacy


def test_a_card_bound_before_the_upgrade_is_moved_at_start_and_stays_its_holders(card_platform):
    card = new_card(card_platform.ca)
    legacy = bound_by_the_service_before_the_upgrade(card_platform, card)
    http = card_platform()  # the upgraded service starts on that store
    ids = stored_ids(card_platform.store_file)
    assert legacy not in ids and CardIndex.create_id(card.card_no) in ids
    assert refusal(bind(http, card, "u-li")) == (409, "CARD_ALREADY_BOUND")
    r = card_login(http, card)
    assert r.status_code == 201 and r.json()["user_id"] == "u-zhang", r.text


def test_a_card_indexed_by_an_instance_not_yet_upgraded_stays_unique_then_moves_on_its_next_change(card_platform):
    http = card_platform()
    card = new_card(card_platform.ca)
    legacy = bound_by_the_service_before_the_upgrade(card_platform, card)  # while the upgraded one runs
    assert refusal(bind(http, card, "u-li")) == (409, "CARD_ALREADY_BOUND")
    r = card_login(http, card)
    assert r.status_code == 201 and r.json()["user_id"] == "u-zhang", r.text
    assert http("DELETE", f"/api/v1/enterprises/{ENTERPRISE}/card", "u-zhang").status_code == 204
    ids = stored_ids(card_platform.store_file)
    assert legacy not in ids and CardIndex.create_id(card.card_no) in ids
    r = bind(http, card, "u-zhang", OTHER_ENTERPRISE)  # released under the keyed id: free for its holder
    assert r.status_code == 201, r.text
    # whoever holds a copy of the store hashes candidate card numbers: none of them is an id there
    candidates = [f"88000000{n:05d}" for n in range(12000, 12500)]
    assert not {CardIndex.legacy_id(c) for c in candidates} & stored_ids(card_platform.store_file)


def test_on_postgresql_the_start_up_move_deletes_the_legacy_rows(monkeypatch, fresh_var):
    """The same move on the scale-out store (eventsourcing-sqlalchemy): its rows under the legacy id gone."""
    import psycopg2

    from services.card.application import CardApplication
    from tests.support import own_database

    ca = load_ca(ensure_dev_ca(fresh_var / "card-ca"))
    card, peers = new_card(ca), FakeCardPeers()
    peers.add("u-zhang", ENTERPRISE, role="user")
    with own_database(monkeypatch) as database:
        with before_keyed_card_ids():
            bind_in_app(CardApplication(trust=Trust(ca), ttl=120), peers, "u-zhang", ENTERPRISE, card)

        def ids():
            with psycopg2.connect(f"postgresql://postgres@localhost:5432/{database}") as db, db.cursor() as cur:
                cur.execute("SELECT originator_id FROM cardapplication_events UNION "
                            "SELECT originator_id FROM cardapplication_snapshots")
                return {str(row[0]) for row in cur.fetchall()}

        legacy, keyed = str(CardIndex.legacy_id(card.card_no)), str(CardIndex.create_id(card.card_no))
        assert legacy in ids()
        app = CardApplication(trust=Trust(ca), ttl=120)  # the upgraded service starts
        assert legacy not in ids() and keyed in ids()
        assert app.find(keyed, CardIndex).user_id == "u-zhang"

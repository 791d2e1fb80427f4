"""The card service on identity's UserErased (services/card/application.py `unbind_erased`): every card
of the erased person is unbound (reason erased) and free for whoever binds it next; once only."""
import uuid

import pytest

from contracts.envelope import make_envelope
from contracts.identity import USER_ERASED
from services.card.domain import CardIndex
from tests import card_support as cards
from tests.card_support import bind, new_card, published

pytestmark = pytest.mark.unit
ca, clock, app, peers = cards.ca, cards.clock, cards.app, cards.peers  # the fixtures


def user_erased(user_id):
    payload = {"user_id": user_id, "erasure_id": str(uuid.uuid4())}
    return make_envelope(USER_ERASED, aggregate_id=user_id, aggregate_version=7,
                         occurred_at="2026-12-07T10:00:00+00:00", payload=payload, actor_user_id=user_id)


def test_the_erased_persons_cards_are_unbound_and_free_again(app, peers, ca):
    user_id, enterprise_id, other = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    peers.add(user_id, enterprise_id, role="user")
    card = new_card(ca)
    bind(app, peers, user_id, enterprise_id, card)
    erased = user_erased(user_id)
    assert app.unbind_erased(erased) is True
    assert app.unbind_erased(erased) is False  # redelivered: nothing more
    assert app.cards_of_user(user_id) == {}
    [unbound] = [e for e in published(app) if e["event_type"] == "CardUnbound"]
    assert unbound["payload"]["reason"] == "erased" and unbound["payload"]["user_id"] == user_id
    peers.add(other, enterprise_id, role="user")  # the holder's next account binds the same card
    bind(app, peers, other, enterprise_id, card)
    assert list(app.cards_of_user(other)) == [enterprise_id]


def test_the_cards_keys_are_destroyed_once_inside_the_consumer_a_repeat_destroys_nothing(app, peers, ca, monkeypatch):
    user_id, enterprise_id = str(uuid.uuid4()), str(uuid.uuid4())
    peers.add(user_id, enterprise_id, role="user")
    card = new_card(ca)
    bind(app, peers, user_id, enterprise_id, card)
    destroyed, destroy = [], app.mapper.keys.destroy

    def destroying(person_id):
        destroyed.append(str(person_id))
        return destroy(person_id)

    monkeypatch.setattr(app.mapper.keys, "destroy", destroying)
    erased = user_erased(user_id)
    assert app.unbind_erased(erased) is True
    assert destroyed == [str(CardIndex.create_id(card.card_no))]
    assert app.mapper.keys.erased(CardIndex.create_id(card.card_no))
    # redelivered before the person's own key went (a death between the purge and erasure.py's destroy_keys):
    # the processed mark says it is done, so the bindings are not read again nor a key destroyed again
    assert app.unbind_erased(erased) is False
    assert destroyed == [str(CardIndex.create_id(card.card_no))]

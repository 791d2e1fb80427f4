"""Bound legal-person cards that the CA revokes or that expire are unbound by the card service's
periodic check (services/card/validity.py), with the reason in CardUnbound, so that enterprise
un-certifies the role they gave. Real certificates and CRLs of the development CA; the in-memory store."""
from datetime import UTC, datetime, timedelta

import pytest

from contracts.card import CARD_UNBOUND
from services.card.application import CardApplication
from services.card.domain import CardBinding
from eport_card.devca import CA_CERT_FILE, CA_CRL_FILE, revoke
from services.card.trust import TrustAnchor
from tests import card_support as cards
from tests.card_support import bind, new_card, published, serial_of

pytestmark = pytest.mark.unit
ca, ca_dir, clock, peers = cards.ca, cards.ca_dir, cards.clock, cards.peers  # the card suite's fixtures


@pytest.fixture
def app(monkeypatch, ca_dir, clock):
    monkeypatch.setenv("EVENT_STORE", "memory")
    trust = TrustAnchor(ca_dir / CA_CERT_FILE, ca_dir / CA_CRL_FILE, crl_required=False)  # the development CA's list
    return CardApplication(clock=clock, trust=trust, ttl=120)


def unbindings(app):
    return [(e["payload"]["card_no"], e["payload"]["reason"]) for e in published(app)
            if e["event_type"] == CARD_UNBOUND.name]


def test_a_revoked_legal_person_card_is_unbound_with_reason_revoked(app, peers, ca, ca_dir):
    peers.add("u1", "e1")
    peers.add("u2", "e2")
    card = new_card(ca, card_type="legal_person")
    operator = new_card(ca, card_no="8800000054321")
    bind(app, peers, "u1", "e1", card)
    bind(app, peers, "u2", "e2", operator)
    assert app.check_validity() == 0
    revoke(ca, serial_of(card), ca_dir / CA_CRL_FILE)
    assert app.check_validity() == 1
    assert app.cards_of_user("u1") == {} and unbindings(app) == [(card.card_no, "revoked")]
    assert app.check_validity() == 0  # once
    # An operator card certifies nothing: its revocation is refused at its next use, not watched here.
    revoke(ca, serial_of(operator), ca_dir / CA_CRL_FILE)
    assert app.check_validity() == 0 and app.cards_of_user("u2") != {}


def test_an_expired_legal_person_card_is_unbound_with_reason_expired(app, peers, ca, clock):
    peers.add("u1", "e1")
    now = datetime.fromtimestamp(clock(), UTC)
    card = new_card(ca, card_type="legal_person", not_before=now - timedelta(days=1),
                    not_after=now + timedelta(hours=1))
    bind(app, peers, "u1", "e1", card)
    assert app.check_validity() == 0
    clock.advance(3599)
    assert app.check_validity() == 0
    clock.advance(2)
    assert app.check_validity() == 1 and unbindings(app) == [(card.card_no, "expired")]


def test_a_card_bound_again_with_a_new_certificate_is_not_unbound_for_the_old_one(app, peers, ca, ca_dir):
    peers.add("u1", "e1")
    old = new_card(ca, card_type="legal_person")
    bind(app, peers, "u1", "e1", old)
    assert app.check_validity() == 0
    app.unbind("u1", "e1")
    renewed = new_card(ca, card_type="legal_person")  # the same card number, reissued
    bind(app, peers, "u1", "e1", renewed)
    revoke(ca, serial_of(old), ca_dir / CA_CRL_FILE)
    assert app.check_validity() == 0 and app.cards_of_user("u1")["e1"]["card_no"] == renewed.card_no
    # Another instance that learnt of the old certificate late decides on the stored binding: not that one.
    binding_id = str(CardBinding.create_id("u1", "e1"))
    assert app.lapse(binding_id, old.card_no, f"{serial_of(old):x}", "revoked") is False
    assert app.cards_of_user("u1")["e1"]["card_no"] == renewed.card_no
    revoke(ca, serial_of(renewed), ca_dir / CA_CRL_FILE)
    assert app.check_validity() == 1 and app.cards_of_user("u1") == {}

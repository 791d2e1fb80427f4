"""Revocation fails closed: a list past its nextUpdate plus the grace stops card operations (503
CARD_REVOCATION_UNAVAILABLE), an older signed list never replaces a newer one, and outside development
the card service does not start without a revocation source. Real CRLs of the development CA."""
from datetime import UTC, datetime, timedelta

import pytest

from contracts import errors as e
from eport_card.devca import CA_CERT_FILE, write_crl
from gateway.errors import status_of
from services.card.application import CardApplication
from services.card.trust import RevocationList, TrustAnchor
from services.common.settings import StartRefused
from tests import card_support as cards
from tests.card_support import bind, login, new_card, serial_of
from tests.support import raises_code

pytestmark = pytest.mark.unit
GRACE = timedelta(hours=1)
ca, ca_dir, clock, peers = cards.ca, cards.ca_dir, cards.clock, cards.peers  # the card suite's fixtures


def crl_at(ca, path, *, now, serials=(), number=None, next_update=None):
    write_crl(ca, set(serials), path, now=now, number=number, next_update=next_update)
    return path


def test_an_older_list_never_replaces_a_newer_one(ca, ca_dir, tmp_path, caplog):
    card, other = new_card(ca), new_card(ca, card_no="8800000054321")
    path, day = tmp_path / "crl.pem", datetime(2026, 3, 1, tzinfo=UTC)
    revocations = RevocationList(crl_at(ca, path, now=day, serials=[serial_of(card)], number=7),
                                 TrustAnchor(ca_dir / CA_CERT_FILE), grace=GRACE)
    assert revocations.is_revoked(serial_of(card))
    # A replayed list of a lower number, even with a later thisUpdate, is not taken.
    crl_at(ca, path, now=day + timedelta(hours=2), serials=[], number=6)
    assert revocations.is_revoked(serial_of(card)) and revocations.current().number == 7
    assert "not newer than the one in force" in caplog.text
    crl_at(ca, path, now=day + timedelta(hours=3), serials=[serial_of(card), serial_of(other)], number=8)
    assert revocations.is_revoked(serial_of(other)) and revocations.current().number == 8


def test_without_numbers_the_later_this_update_wins(ca, ca_dir, tmp_path):
    card = new_card(ca)
    path, day = tmp_path / "crl.pem", datetime(2026, 3, 1, tzinfo=UTC)
    revocations = RevocationList(crl_at(ca, path, now=day, serials=[serial_of(card)]),
                                 TrustAnchor(ca_dir / CA_CERT_FILE), grace=GRACE)
    crl_at(ca, path, now=day - timedelta(days=1), serials=[])  # signed earlier: an old copy
    assert revocations.is_revoked(serial_of(card))
    crl_at(ca, path, now=day + timedelta(days=1), serials=[])
    assert not revocations.is_revoked(serial_of(card))


def stale_app(monkeypatch, ca, ca_dir, tmp_path, clock, next_update):
    monkeypatch.setenv("EVENT_STORE", "memory")
    issued = datetime.fromtimestamp(clock(), UTC) - timedelta(days=8)
    path = crl_at(ca, tmp_path / "crl.pem", now=issued, number=1, next_update=next_update)
    trust = TrustAnchor(ca_dir / CA_CERT_FILE, path)
    trust.revocations.grace = GRACE
    return CardApplication(clock=clock, trust=trust, ttl=120)


def test_a_list_past_next_update_and_grace_stops_binding_and_login(monkeypatch, ca, ca_dir, tmp_path, clock, peers):
    now = datetime.fromtimestamp(clock(), UTC)
    app = stale_app(monkeypatch, ca, ca_dir, tmp_path, clock, next_update=now - GRACE + timedelta(minutes=1))
    peers.add("u1", "e1")
    peers.add("u2", "e2")
    card, later = new_card(ca), new_card(ca, card_no="8800000054321")
    bind(app, peers, "u1", "e1", card)  # within the grace: still trusted
    assert login(app, peers, card)["user_id"] == "u1"
    clock.advance(120)  # the grace is over: nobody can tell whether a card was revoked since
    assert raises_code(login, app, peers, card) == e.CARD_REVOCATION_UNAVAILABLE
    assert raises_code(bind, app, peers, "u2", "e2", later) == e.CARD_REVOCATION_UNAVAILABLE
    assert status_of(e.CARD_REVOCATION_UNAVAILABLE) == 503
    assert app.cards_of_user("u2") == {}
    # A newer list is published: card operations work again.
    crl_at(ca, tmp_path / "crl.pem", now=now, number=2)
    assert login(app, peers, card)["user_id"] == "u1"


def test_outside_development_the_card_service_needs_a_revocation_source(monkeypatch, ca_dir, tmp_path):
    monkeypatch.setenv("EPORT_ENV", "production")
    monkeypatch.setenv("CARD_CA_CERT", str(ca_dir / CA_CERT_FILE))
    monkeypatch.delenv("CARD_CRL", raising=False)
    with pytest.raises(StartRefused, match="CARD_CRL is not set"):
        TrustAnchor.from_env()
    monkeypatch.setenv("CARD_CRL_GRACE", str(8 * 86400))  # the grace is bounded
    monkeypatch.setenv("CARD_CRL", str(tmp_path / "crl.pem"))
    with pytest.raises(ValueError, match="CARD_CRL_GRACE"):
        TrustAnchor.from_env()

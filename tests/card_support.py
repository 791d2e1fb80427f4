"""The card suites' own parts: a CA and cards of the development CA (eport_card.devca), the fixtures
`ca`, `ca_dir`, `clock`, `app` (a CardApplication on the in-memory store) and `peers` (tests/peers.py's
fake), and the steps `bind`, `login`, `published`. A card test module takes the fixtures it uses by
name: `ca, clock, peers = cards.ca, cards.clock, cards.peers` (`from tests import card_support as cards`)."""
import base64
import sqlite3
import uuid
from contextlib import contextmanager
from datetime import datetime, UTC

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from services.card.application import CardApplication
from services.card.domain import CardIndex
from eport_card.devca import create_ca, issue_card, save_ca
from services.card.integration import to_integration
from tests.peers import HOLDER, USCC, FakeCardPeers
from tests.support import Clock


class Trust:
    def __init__(self, ca):
        self.ca = ca
        self.revoked = set()

    def pem(self):
        return self.ca.cert_pem

    def is_revoked(self, serial_number):
        return serial_number in self.revoked

    def check_fresh(self, now):
        """No list to go stale (tests/unit/test_card_revocation.py has real ones)."""

    def revocation_list(self):
        return None


@pytest.fixture(scope="module")
def ca():
    return create_ca(now=datetime(2025, 1, 1, tzinfo=UTC))


@pytest.fixture
def clock():
    return Clock(now=datetime(2026, 3, 1, tzinfo=UTC).timestamp())


@pytest.fixture
def app(monkeypatch, ca, clock):
    monkeypatch.setenv("EVENT_STORE", "memory")
    return CardApplication(clock=clock, trust=Trust(ca), ttl=120)


@pytest.fixture
def peers():
    return FakeCardPeers()


def new_card(ca, card_no="8800000012345", card_type="operator", **overrides):
    fields = dict(HOLDER, uscc=USCC, not_before=datetime(2025, 6, 1, tzinfo=UTC), days=730)
    fields.update(overrides)
    return issue_card(ca, card_no=card_no, card_type=card_type, pin_hash_iterations=1000, **fields)


def sign(card, nonce_b64):
    key = serialization.load_pem_private_key(card.private_key_pem.encode(), password=None)
    return base64.b64encode(key.sign(base64.b64decode(nonce_b64), ec.ECDSA(hashes.SHA256()))).decode()


def bind(app, peers, user_id, enterprise_id, card, **overrides):
    challenge = app.create_challenge("bind", card.card_no, user_id)
    args = dict(card_no=card.card_no, challenge_id=challenge["challenge_id"],
                certificate_pem=card.certificate_pem, signature_b64=sign(card, challenge["nonce"]))
    args.update(overrides)
    return app.bind(peers, user_id, enterprise_id, **args)


def login(app, peers, card):
    challenge = app.create_challenge("login", card.card_no)
    return app.login(peers, challenge["challenge_id"], card.certificate_pem, sign(card, challenge["nonce"]))


def published(app):
    """The integration events the relay would publish from everything recorded so far."""
    envelopes, start = [], 1
    while True:
        section = app.notification_log.select(start=start, limit=10)
        envelopes += [env for n in section for env in to_integration(app.mapper.to_domain_event(n))]
        if len(section) < 10:
            return envelopes
        start = section[-1].id + 1


def serial_of(card):
    return x509.load_pem_x509_certificate(card.certificate_pem.encode()).serial_number


@pytest.fixture
def ca_dir(ca, tmp_path):
    save_ca(ca, tmp_path / "ca")
    return tmp_path / "ca"


@contextmanager
def before_keyed_card_ids():
    """The card service as it was before keyed card index ids (what wrote a store before the upgrade, or an
    instance not upgraded yet): a card's index, and the subject its number is sealed for, under the uuid5 of
    the plain card number, and no migration."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CardIndex, "create_id", staticmethod(CardIndex.legacy_id))
        patch.setattr(CardApplication, "migrate_legacy_indexes", lambda self: 0)
        yield


def stored_ids(store_file):
    """Every aggregate id in a SQLite event store file, events and snapshots: what anyone holding a copy
    of it reads without any key."""
    with sqlite3.connect(store_file) as db:
        rows = db.execute("SELECT originator_id FROM stored_events UNION SELECT originator_id FROM stored_snapshots")
        return {uuid.UUID(row[0]) for row in rows}

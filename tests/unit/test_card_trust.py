"""The card service's trust in the CA: the development CA made once and found under var/, an expired CA
refused, a revoked card neither binds nor logs in, a CRL URL fetched again at each refresh (a local
HTTP server) and a broken one keeping the last good list. Real certificates and CRLs."""
import threading
from datetime import datetime, UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from contracts import errors as e
from contracts.errors import ServiceError
from services.card.application import CardApplication
from services.card.certs import CardCertificateError
from eport_card.devca import CA_CERT_FILE, CA_CRL_FILE, create_ca, revoke
from services.card.trust import RevocationList, TrustAnchor, ensure_dev_ca
from tests import card_support as cards
from tests.card_support import Trust, bind, login, new_card, serial_of
from tests.support import raises_code

pytestmark = pytest.mark.unit
# the card suite's fixtures
ca, ca_dir, clock, app, peers = cards.ca, cards.ca_dir, cards.clock, cards.app, cards.peers


def test_dev_ca_is_created_once(tmp_path):
    first = ensure_dev_ca(tmp_path / "card-ca")
    pem = (first / "ca-cert.pem").read_text()
    assert ensure_dev_ca(tmp_path / "card-ca") == first
    assert (first / "ca-cert.pem").read_text() == pem
    assert oct((first / "ca-key.pem").stat().st_mode & 0o777) == "0o600"


def test_default_trust_anchor_is_the_dev_ca_under_var(monkeypatch, tmp_path):
    monkeypatch.setenv("EVENT_STORE", "memory")
    monkeypatch.setenv("EPORT_VAR", str(tmp_path))
    monkeypatch.delenv("CARD_CA_CERT", raising=False)
    monkeypatch.setenv("CARD_CHALLENGE_TTL", "7")
    app = CardApplication()
    assert app.trust.pem() == (tmp_path / "card-ca" / "ca-cert.pem").read_text()
    assert app.create_challenge("login", "1")["expires_in"] == 7
    other = create_ca("Production CA")
    path = tmp_path / "prod-ca.pem"
    path.write_text(other.cert_pem)
    monkeypatch.setenv("CARD_CA_CERT", str(path))
    assert CardApplication().trust.pem() == other.cert_pem
    monkeypatch.setenv("CARD_CA_CERT", str(tmp_path / "missing.pem"))
    with pytest.raises(FileNotFoundError):
        CardApplication()


def test_expired_ca_is_refused_too(monkeypatch, peers, clock):
    monkeypatch.setenv("EVENT_STORE", "memory")
    old_ca = create_ca(now=datetime(2020, 1, 1, tzinfo=UTC), days=365)
    app = CardApplication(clock=clock, trust=Trust(old_ca), ttl=120)
    peers.add("u1", "e1")
    card = new_card(old_ca, not_before=datetime(2020, 2, 1, tzinfo=UTC), days=3650)
    with pytest.raises(ServiceError) as exc:
        bind(app, peers, "u1", "e1", card)
    assert exc.value.code == e.CERTIFICATE_UNTRUSTED


def test_a_revoked_card_can_neither_bind_nor_log_in(monkeypatch, ca, ca_dir, peers, clock):
    monkeypatch.setenv("EVENT_STORE", "memory")
    # The development CA's own list, written by `devca revoke` once the service runs.
    trust = TrustAnchor(ca_dir / CA_CERT_FILE, ca_dir / CA_CRL_FILE, crl_required=False)
    app = CardApplication(clock=clock, trust=trust, ttl=120)
    peers.add("u1", "e1")
    peers.add("u2", "e2", holder={"holder_name": "李四", "holder_id_number": "110105194912310029"})
    bound, unbound = new_card(ca), new_card(ca, card_no="8800000054321", holder_name="李四",
                                            holder_id_number="110105194912310029")
    bind(app, peers, "u1", "e1", bound)
    assert login(app, peers, bound)["user_id"] == "u1"
    for card in (bound, unbound):
        revoke(ca, serial_of(card), ca_dir / CA_CRL_FILE)
    assert raises_code(login, app, peers, bound) == e.CERTIFICATE_UNTRUSTED
    assert raises_code(bind, app, peers, "u2", "e2", unbound) == e.CERTIFICATE_UNTRUSTED
    assert app.cards_of_user("u2") == {} and peers.sessions == [("u1", bound.card_no)]


class CrlServer(BaseHTTPRequestHandler):
    crl = b""
    fetches = 0

    def do_GET(self):
        type(self).fetches += 1
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.crl)))
        self.end_headers()
        self.wfile.write(self.crl)

    def log_message(self, *args):
        pass


def test_a_crl_url_is_fetched_again_every_refresh_and_a_bad_one_keeps_the_last(ca, ca_dir, tmp_path, caplog):
    card, other = new_card(ca), new_card(ca, card_no="8800000054321")
    crl_file = tmp_path / "published.pem"
    revoke(ca, serial_of(card), crl_file)
    CrlServer.crl, CrlServer.fetches = crl_file.read_bytes(), 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), CrlServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    now = [0.0]
    try:
        crl = RevocationList(f"http://127.0.0.1:{server.server_port}/ca.crl", TrustAnchor(ca_dir / CA_CERT_FILE),
                             refresh=300, clock=lambda: now[0])
        assert crl.is_revoked(serial_of(card)) and not crl.is_revoked(serial_of(other))
        revoke(ca, serial_of(other), crl_file)
        CrlServer.crl = crl_file.read_bytes()
        now[0] = 299
        assert not crl.is_revoked(serial_of(other)) and CrlServer.fetches == 1  # not yet fetched again
        now[0] = 300
        assert crl.is_revoked(serial_of(other)) and CrlServer.fetches == 2
        CrlServer.crl = b"not a CRL"  # a broken list: the last good one stays in force
        now[0] = 600
        assert crl.is_revoked(serial_of(other)) and CrlServer.fetches == 3
        assert "could not be re-read" in caplog.text
    finally:
        server.shutdown()
        server.server_close()


def test_a_configured_crl_must_be_there_at_start(ca_dir, tmp_path):
    with pytest.raises(FileNotFoundError):
        TrustAnchor(ca_dir / CA_CERT_FILE, tmp_path / "missing.pem")
    revoke(create_ca("Another CA"), 1, tmp_path / "foreign.pem")
    with pytest.raises(CardCertificateError):  # signed by another CA
        TrustAnchor(ca_dir / CA_CERT_FILE, tmp_path / "foreign.pem")

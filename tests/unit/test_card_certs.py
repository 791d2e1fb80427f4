"""Card certificates: the dev CA issues them, certs.py checks them (no PC/SC here)."""
import json
import os
import stat
from datetime import datetime, timedelta, UTC

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from eport_card import devca
from eport_card.cardimage import CardImage, CardImageError, pin_matches
from services.card import certs

pytestmark = pytest.mark.unit

HOLDER = dict(card_no="8800000012345", card_type="legal_person", holder_name="李四",
              holder_id_number="11010519491231002X", uscc="91350100M000100Y43")
# The moment every check below is made at. Taken at collection: the CA and the card are made
# valid around it, not around the wall clock when their fixtures run (which may be many minutes
# later in a long run: test_fixtures_made_long_after_collection_still_verify).
NOW = datetime.now(UTC)


def make_ca():
    return devca.create_ca(now=NOW)


def make_card(ca):
    return devca.issue_card(ca, pin="123456", pin_hash_iterations=1000, not_before=NOW - timedelta(minutes=5),
                            **HOLDER)


@pytest.fixture(scope="module")
def ca():
    return make_ca()


@pytest.fixture(scope="module")
def card(ca):
    return make_card(ca)


def _clock_at(moment):
    class Shifted(datetime):
        @classmethod
        def now(cls, tz=None):
            return moment if tz is not None else moment.replace(tzinfo=None)
    return Shifted


def test_fixtures_made_long_after_collection_still_verify(monkeypatch):
    """The clock moved 11 minutes between collection and the fixtures (an 11-minute run did that)."""
    monkeypatch.setattr(devca, "datetime", _clock_at(NOW + timedelta(minutes=11)))
    assert devca.datetime.now(UTC) == NOW + timedelta(minutes=11)  # the shift reaches devca
    ca = make_ca()
    info = certs.verify_chain(make_card(ca).certificate_pem, ca.cert_pem, NOW)
    assert info.card_no == HOLDER["card_no"] and info.not_before < NOW < info.not_after


def _made_at(ca_cert_pem):
    """When a CA made by devca with the wall clock was made (it is valid from 5 minutes before)."""
    return x509.load_pem_x509_certificate(ca_cert_pem.encode()).not_valid_before_utc + timedelta(minutes=5)


def test_chain_gives_back_the_identity(ca, card):
    info = certs.verify_chain(card.certificate_pem, ca.cert_pem, NOW)
    cert = x509.load_pem_x509_certificate(card.certificate_pem.encode())
    assert info == certs.CardCertInfo(**HOLDER, not_before=info.not_before, not_after=info.not_after,
                                      serial_number=cert.serial_number,
                                      fingerprint=cert.fingerprint(hashes.SHA256()).hex())
    assert info.not_before < NOW < info.not_after
    assert info.not_before.tzinfo is not None


def test_naive_now_is_utc_and_bytes_are_accepted(ca, card):
    naive = NOW.replace(tzinfo=None)
    assert certs.verify_chain(card.certificate_pem.encode(), ca.cert_pem.encode(), naive).card_no == HOLDER["card_no"]


def test_another_ca_is_untrusted(card):
    with pytest.raises(certs.CertificateUntrusted):
        certs.verify_chain(card.certificate_pem, devca.create_ca("Impostor CA").cert_pem, NOW)


def test_impostor_with_the_same_ca_name_is_untrusted(ca, card):
    impostor = devca.create_ca(ca.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
    forged = devca.issue_card(impostor, pin_hash_iterations=1000, **HOLDER)
    with pytest.raises(certs.CertificateUntrusted):
        certs.verify_chain(forged.certificate_pem, ca.cert_pem, NOW)


def test_tampered_certificate_is_untrusted(ca, card):
    der = bytearray(x509.load_pem_x509_certificate(card.certificate_pem.encode()).public_bytes(
        serialization.Encoding.DER))
    at = der.find("李四".encode())
    der[at:at + 3] = "王".encode()  # same length in UTF-8, so the DER stays well-formed
    tampered = x509.load_der_x509_certificate(bytes(der)).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(certs.CertificateUntrusted):
        certs.verify_chain(tampered, ca.cert_pem, NOW)


def test_ca_certificate_is_not_a_card(ca):
    with pytest.raises(certs.CertificateUntrusted):
        certs.verify_chain(ca.cert_pem, ca.cert_pem, NOW)


def test_card_certificate_is_not_a_trust_anchor(card):
    with pytest.raises(certs.CertificateUntrusted):
        certs.verify_chain(card.certificate_pem, card.certificate_pem, NOW)


def test_expired_and_not_yet_valid(ca, card):
    expired = devca.issue_card(ca, not_before=NOW - timedelta(days=30), not_after=NOW - timedelta(seconds=1),
                               pin_hash_iterations=1000, **HOLDER)
    with pytest.raises(certs.CertificateExpired, match="expired"):
        certs.verify_chain(expired.certificate_pem, ca.cert_pem, NOW)
    with pytest.raises(certs.CertificateExpired, match="not valid before"):
        certs.verify_chain(card.certificate_pem, ca.cert_pem, NOW - timedelta(days=1))


def test_expired_ca_refuses_its_cards():
    old_ca = devca.create_ca(days=1, now=NOW - timedelta(days=10))
    card = devca.issue_card(old_ca, not_before=NOW - timedelta(days=10), days=365,
                            pin_hash_iterations=1000, **HOLDER)
    with pytest.raises(certs.CertificateExpired, match="CA certificate"):
        certs.verify_chain(card.certificate_pem, old_ca.cert_pem, NOW)


@pytest.mark.parametrize("garbage", ["", "hello", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                                     "证书"])
def test_garbage_is_malformed(ca, garbage):
    with pytest.raises(certs.CertificateMalformed):
        certs.verify_chain(garbage, ca.cert_pem, NOW)


def test_garbage_ca_is_malformed(card):
    with pytest.raises(certs.CertificateMalformed):
        certs.verify_chain(card.certificate_pem, "not a CA", NOW)


def test_certificate_without_card_fields_is_malformed(ca):
    key = ec.generate_private_key(ec.SECP256R1())
    bare = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone")]))
            .issuer_name(ca.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=1))
            .sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    with pytest.raises(certs.CertificateMalformed, match="serialNumber"):
        certs.verify_chain(bare, ca.cert_pem, NOW)


def test_signature_over_the_nonce(card):
    key = serialization.load_pem_private_key(card.private_key_pem.encode(), password=None)
    nonce = os.urandom(32)
    signature = key.sign(nonce, ec.ECDSA(hashes.SHA256()))
    assert certs.verify_signature(card.certificate_pem, nonce, signature) is True
    assert certs.verify_signature(card.certificate_pem, nonce + b"x", signature) is False
    assert certs.verify_signature(card.certificate_pem, nonce, b"\x30\x00") is False
    assert certs.verify_signature(card.certificate_pem, nonce, b"") is False
    other = devca.issue_card(devca.create_ca(), pin_hash_iterations=1000, **HOLDER)
    assert certs.verify_signature(other.certificate_pem, nonce, signature) is False


def test_card_image_round_trip_and_hashed_pin(card, tmp_path):
    path = tmp_path / "card.json"
    card.save(path)
    text = path.read_text(encoding="utf-8")
    assert "123456" not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = CardImage.load(path)
    assert loaded == card
    assert (loaded.pin_tries_left, loaded.pin_max_tries) == (5, 5)
    assert pin_matches(loaded.pin, b"123456") and not pin_matches(loaded.pin, b"654321")
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


@pytest.mark.parametrize("change", [{"card_type": "boss"}, {"pin_tries_left": 6}, {"format": "v0"},
                                    {"pin_tries_left": -1}, {"card_no": ""}])
def test_card_image_rejects_bad_fields(card, change):
    raw = {**json.loads(card.to_json()), **change}
    with pytest.raises(CardImageError):
        CardImage.from_json(json.dumps(raw))


def test_issue_rejects_bad_input(ca):
    with pytest.raises(ValueError):
        devca.issue_card(ca, pin="12ab", **HOLDER)
    with pytest.raises(ValueError):
        devca.issue_card(ca, **{**HOLDER, "card_type": "admin"})
    with pytest.raises(ValueError):
        devca.issue_card(ca, not_before=NOW, not_after=NOW - timedelta(days=1), **HOLDER)


def test_devca_command_line(tmp_path, capsys):
    ca_dir, out = tmp_path / "ca", tmp_path / "card.json"
    assert devca.main(["init-ca", "--out", str(ca_dir)]) == 0
    assert stat.S_IMODE((ca_dir / "ca-key.pem").stat().st_mode) == 0o600
    with pytest.raises(SystemExit):  # refuses to overwrite a CA by accident
        devca.main(["init-ca", "--out", str(ca_dir)])
    assert devca.main([
        "issue", "--ca", str(ca_dir), "--card-no", "8800000099999", "--card-type", "operator",
        "--holder-name", "张三", "--holder-id-number", "11010519491231002X",
        "--uscc", "91350100M000100Y43", "--pin", "87654321",
        "--not-before", "2025-01-01T00:00:00", "--not-after", "2035-01-01T00:00:00+08:00",
        "--out", str(out)]) == 0
    image = CardImage.load(out)
    ca_pem = (ca_dir / "ca-cert.pem").read_text()
    info = certs.verify_chain(image.certificate_pem, ca_pem, _made_at(ca_pem))
    assert (info.card_no, info.card_type, info.holder_name) == ("8800000099999", "operator", "张三")
    assert info.not_before == datetime(2025, 1, 1, tzinfo=UTC)
    assert info.not_after == datetime(2034, 12, 31, 16, tzinfo=UTC)
    assert pin_matches(image.pin, b"87654321")
    assert devca.main(["issue", "--ca", str(tmp_path / "nowhere"), "--card-no", "1", "--card-type",
                       "operator", "--holder-name", "x", "--holder-id-number", "y", "--uscc", "z",
                       "--out", str(tmp_path / "x.json")]) == 1


def _reissued(ca, card, key_usage):
    """The card's certificate again, with another keyUsage (None: without the extension)."""
    cert = x509.load_pem_x509_certificate(card.certificate_pem.encode())
    builder = (x509.CertificateBuilder().subject_name(cert.subject).issuer_name(ca.cert.subject)
               .public_key(cert.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(cert.not_valid_before_utc).not_valid_after(cert.not_valid_after_utc))
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _usage(**allowed):
    flags = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                           "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"), False)
    return x509.KeyUsage(**{**flags, **allowed})


def test_a_card_certificate_must_allow_digital_signature(ca, card):
    assert certs.verify_chain(_reissued(ca, card, _usage(digital_signature=True)), ca.cert_pem, NOW)
    for key_usage in (_usage(key_encipherment=True), _usage(content_commitment=True), None):
        with pytest.raises(certs.CertificateUntrusted, match="digitalSignature"):
            certs.verify_chain(_reissued(ca, card, key_usage), ca.cert_pem, NOW)


def _serial(card):
    return x509.load_pem_x509_certificate(card.certificate_pem.encode()).serial_number


def test_revoke_writes_a_crl_the_ca_signed(ca, card, tmp_path):
    crl_path = tmp_path / "ca-crl.pem"
    other = devca.issue_card(ca, pin_hash_iterations=1000, **HOLDER)
    assert devca.revoke(ca, _serial(card), crl_path) == {_serial(card)}
    assert devca.revoke(ca, _serial(other), crl_path) == {_serial(card), _serial(other)}  # adds, keeps
    crl = certs.load_crl(crl_path.read_bytes(), ca.cert_pem)
    assert crl.revoked == {_serial(card), _serial(other)} and crl.next_update > crl.last_update
    der = x509.load_pem_x509_crl(crl_path.read_bytes()).public_bytes(serialization.Encoding.DER)
    assert certs.load_crl(der, ca.cert_pem).revoked == crl.revoked
    with pytest.raises(certs.CertificateUntrusted):  # a list the trusted CA did not sign counts for nothing
        certs.load_crl(crl_path.read_bytes(), devca.create_ca().cert_pem)
    with pytest.raises(certs.CertificateMalformed):
        certs.load_crl(b"garbage", ca.cert_pem)


def test_devca_revoke_command_line(ca, card, tmp_path, capsys):
    ca_dir = tmp_path / "ca"
    devca.save_ca(ca, ca_dir)
    card.save(tmp_path / "card.json")
    assert devca.main(["revoke", "--ca", str(ca_dir), "--card", str(tmp_path / "card.json")]) == 0
    other = devca.issue_card(ca, pin_hash_iterations=1000, **HOLDER)
    assert devca.main(["revoke", "--ca", str(ca_dir), "--serial", f"{_serial(other):x}"]) == 0
    revoked = certs.load_crl((ca_dir / devca.CA_CRL_FILE).read_bytes(), ca.cert_pem).revoked
    assert revoked == {_serial(card), _serial(other)}
    assert "revoked" in capsys.readouterr().out
    assert devca.main(["revoke", "--ca", str(tmp_path / "nowhere"), "--serial", "1"]) == 1

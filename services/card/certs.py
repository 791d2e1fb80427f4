"""Reading and checking card certificates. Pure: no I/O, the caller supplies the time.

How a card certificate carries the card's identity (the subject's fields, the OIDs) is the
card CA's layout: cardagent/eport_card/certificate.py, beside the development CA that writes it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, UTC

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from eport_card.certificate import CARD_TYPES, OID_CARD_TYPE, OID_HOLDER_ID_NUMBER, OID_USCC


class CardCertificateError(Exception):
    """Base of the reasons a card certificate is refused."""


class CertificateMalformed(CardCertificateError):
    """Not a parseable card certificate, or fields missing or of the wrong kind."""


class CertificateUntrusted(CardCertificateError):
    """Not issued (or not validly signed) by the trusted CA."""


class CertificateExpired(CardCertificateError):
    """Outside its validity window (expired, or not valid yet)."""


class CertificateRevoked(CertificateUntrusted):
    """On the CA's certificate revocation list."""


@dataclass(frozen=True)
class CardCertInfo:
    card_no: str
    card_type: str
    holder_name: str
    holder_id_number: str
    uscc: str
    not_before: datetime
    not_after: datetime
    serial_number: int = 0
    fingerprint: str = ""  # hex SHA-256 of the DER certificate: what a binding pins


@dataclass(frozen=True)
class Crl:
    """A CA's certificate revocation list, its signature checked. `number` (CRLNumber, None when the
    list has none) and then `last_update` (thisUpdate) say which of two lists is newer."""
    revoked: frozenset
    last_update: datetime
    next_update: datetime
    number: int | None = None

    def newer_than(self, other: Crl | None) -> bool:
        if other is None:
            return True
        if self.number is not None and other.number is not None and self.number != other.number:
            return self.number > other.number
        return self.last_update > other.last_update


def load_certificate(cert_pem: str | bytes, what: str = "certificate") -> x509.Certificate:
    try:
        data = cert_pem.encode("ascii") if isinstance(cert_pem, str) else bytes(cert_pem)
        return x509.load_pem_x509_certificate(data)
    except (ValueError, TypeError) as exc:  # UnicodeEncodeError is a ValueError
        raise CertificateMalformed(f"{what} is not a PEM X.509 certificate: {exc}") from None


def read_card_info(cert: x509.Certificate) -> CardCertInfo:
    """The identity fields of a card certificate, without checking who issued it."""
    subject = cert.subject

    def one(oid: x509.ObjectIdentifier, label: str) -> str:
        values = subject.get_attributes_for_oid(oid)
        if len(values) != 1 or not isinstance(values[0].value, str) or not values[0].value:
            raise CertificateMalformed(f"certificate subject must carry exactly one {label}")
        return values[0].value

    info = CardCertInfo(
        card_no=one(NameOID.SERIAL_NUMBER, "serialNumber (card number)"),
        card_type=one(OID_CARD_TYPE, "card type"),
        holder_name=one(NameOID.COMMON_NAME, "commonName (holder name)"),
        holder_id_number=one(OID_HOLDER_ID_NUMBER, "holder ID number"),
        uscc=one(OID_USCC, "USCC"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        serial_number=cert.serial_number,
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
    )
    if info.card_type not in CARD_TYPES:
        raise CertificateMalformed(f"unknown card type {info.card_type!r}")
    return info


def parse_card_certificate(cert_pem: str | bytes) -> CardCertInfo:
    return read_card_info(load_certificate(cert_pem))


def verify_chain(cert_pem: str | bytes, ca_cert_pem: str | bytes, now: datetime) -> CardCertInfo:
    """Check that the card certificate was issued by the CA and is valid at `now`.

    Raises CertificateMalformed, CertificateUntrusted or CertificateExpired.
    A naive `now` is taken as UTC.
    """
    cert = load_certificate(cert_pem)
    ca = load_certificate(ca_cert_pem, "CA certificate")
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)

    if not _is_ca(ca):
        raise CertificateUntrusted("the trust anchor is not a CA certificate")
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise CertificateUntrusted("certificate was not issued by the trusted card CA") from None
    if _is_ca(cert):
        raise CertificateUntrusted("a CA certificate is not a card certificate")

    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise CertificateMalformed("card key must be ECDSA P-256")
    info = read_card_info(cert)
    _check_signing_key(cert)

    for which, c in (("CA certificate", ca), ("certificate", cert)):
        if now < c.not_valid_before_utc:
            raise CertificateExpired(f"{which} is not valid before {c.not_valid_before_utc.isoformat()}")
        if now > c.not_valid_after_utc:
            raise CertificateExpired(f"{which} expired at {c.not_valid_after_utc.isoformat()}")
    return info


def verify_signature(cert_pem: str | bytes, nonce_bytes: bytes, signature_bytes: bytes) -> bool:
    """True when `signature_bytes` is the card's DER ECDSA signature over SHA-256(nonce)."""
    key = load_certificate(cert_pem).public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise CertificateMalformed("card key must be ECDSA")
    try:
        key.verify(bytes(signature_bytes), bytes(nonce_bytes), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def load_crl(data: bytes, ca_cert_pem: str | bytes) -> Crl:
    """The revoked serial numbers of a CRL (PEM or DER) that the CA signed; CertificateUntrusted
    for a CRL of another issuer or with a bad signature, CertificateMalformed for garbage or a list
    without nextUpdate (it would never go stale: a reader could not tell it is out of date)."""
    try:
        crl = (x509.load_pem_x509_crl if data.lstrip().startswith(b"-----") else x509.load_der_x509_crl)(data)
    except (ValueError, TypeError) as exc:
        raise CertificateMalformed(f"not an X.509 CRL: {exc}") from None
    ca = load_certificate(ca_cert_pem, "CA certificate")
    if crl.issuer != ca.subject or not crl.is_signature_valid(ca.public_key()):
        raise CertificateUntrusted("the revocation list is not signed by the card CA")
    if crl.next_update_utc is None:
        raise CertificateMalformed("the revocation list has no nextUpdate")
    try:
        number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        number = None
    return Crl(frozenset(entry.serial_number for entry in crl), crl.last_update_utc, crl.next_update_utc, number)


def _check_signing_key(cert: x509.Certificate) -> None:
    """A card proves itself by signing: its certificate must allow exactly that (keyUsage)."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise CertificateUntrusted("a card certificate must carry keyUsage digitalSignature") from None
    if not usage.digital_signature:
        raise CertificateUntrusted("the certificate's keyUsage does not allow digitalSignature")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False

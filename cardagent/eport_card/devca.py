"""A development e-port CA: issues card images (key + certificate + PIN) for the emulator.

    eport-devca init-ca --out DIR                      (or python -m eport_card.devca)
    eport-devca issue --ca DIR --card-no NO --card-type operator \
        --holder-name NAME --holder-id-number ID --uscc USCC --pin 123456 [--days N] --out card.json
    eport-devca revoke --ca DIR (--card card.json | --cert cert.pem | --serial HEX) [--crl DIR/ca-crl.pem]
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .cardimage import PIN_MAX_TRIES, CardImage, hash_pin, save_atomically
from .certificate import CARD_TYPES, OID_CARD_TYPE, OID_HOLDER_ID_NUMBER, OID_USCC

CA_KEY_FILE = "ca-key.pem"
CA_CERT_FILE = "ca-cert.pem"
CA_CRL_FILE = "ca-crl.pem"  # the revocation list `revoke` writes; the card service reads it (services/card/trust.py)
CRL_DAYS = 7  # nextUpdate: when readers should expect a newer list
DEFAULT_CA_NAME = "E-Port Development Card CA"
DEFAULT_CA_DAYS = 3650
DEFAULT_CARD_DAYS = 730


@dataclass(frozen=True)
class DevCA:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def key_pem(self) -> str:
        return _private_pem(self.key)


def create_ca(common_name: str = DEFAULT_CA_NAME, *, days: int = DEFAULT_CA_DAYS,
              now: datetime | None = None) -> DevCA:
    now = now or datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "E-Port Development"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return DevCA(key, cert)


def save_ca(ca: DevCA, directory: str | Path) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_atomically(directory / CA_KEY_FILE, ca.key_pem, mode=0o600)
    save_atomically(directory / CA_CERT_FILE, ca.cert_pem, mode=0o644)


def load_ca(directory: str | Path) -> DevCA:
    directory = Path(directory)
    key = serialization.load_pem_private_key((directory / CA_KEY_FILE).read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate((directory / CA_CERT_FILE).read_bytes())
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("CA key must be ECDSA")
    return DevCA(key, cert)


def issue_card(ca: DevCA, *, card_no: str, card_type: str, holder_name: str,
               holder_id_number: str, uscc: str, pin: str = "123456",
               not_before: datetime | None = None, not_after: datetime | None = None,
               days: int = DEFAULT_CARD_DAYS, pin_tries_left: int = PIN_MAX_TRIES,
               pin_hash_iterations: int | None = None) -> CardImage:
    """A new card: fresh key pair, certificate signed by `ca`, hashed PIN, full retry counter."""
    holder = {"card_no": card_no, "card_type": card_type, "holder_name": holder_name,
              "holder_id_number": holder_id_number, "uscc": uscc}
    _check_holder(holder)
    not_before = _aware(not_before) or datetime.now(UTC) - timedelta(minutes=5)
    not_after = _aware(not_after) or not_before + timedelta(days=days)
    if not_after <= not_before:
        raise ValueError("not_after must be later than not_before")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _card_certificate(ca, key, holder, not_before, not_after)
    pin_kwargs = {"iterations": pin_hash_iterations} if pin_hash_iterations else {}
    return CardImage(
        **holder, private_key_pem=_private_pem(key),
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        pin=hash_pin(pin, **pin_kwargs), pin_tries_left=pin_tries_left, pin_max_tries=PIN_MAX_TRIES,
    )


def _check_holder(holder: dict) -> None:
    if holder["card_type"] not in CARD_TYPES:
        raise ValueError(f"card_type must be one of {CARD_TYPES}")
    for label, value in holder.items():
        if not value or not value.strip():
            raise ValueError(f"{label} is required")


def _card_certificate(ca: DevCA, key: ec.EllipticCurvePrivateKey, holder: dict, not_before: datetime,
                      not_after: datetime) -> x509.Certificate:
    """The card's certificate, its subject laid out as certificate.py says."""
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, holder["card_no"]),
        x509.NameAttribute(NameOID.COMMON_NAME, holder["holder_name"]),
        x509.NameAttribute(OID_CARD_TYPE, holder["card_type"]),
        x509.NameAttribute(OID_HOLDER_ID_NUMBER, holder["holder_id_number"]),
        x509.NameAttribute(OID_USCC, holder["uscc"]),
    ])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                       critical=False)
        .sign(ca.key, hashes.SHA256())
    )


@dataclass(frozen=True)
class CaList:
    """What the CA needs of its own revocation list to write the next one."""
    revoked: frozenset
    number: int | None  # CRLNumber; None when the list has none


def current_crl(ca: DevCA, crl_path: str | Path) -> CaList | None:
    """The CA's list at `crl_path`, or None when it does not exist; ValueError for another issuer's."""
    path = Path(crl_path)
    if not path.exists():
        return None
    data = path.read_bytes()
    crl = (x509.load_pem_x509_crl if data.lstrip().startswith(b"-----") else x509.load_der_x509_crl)(data)
    # Never re-sign another issuer's list: its serials mean nothing to this CA.
    if crl.issuer != ca.cert.subject or not crl.is_signature_valid(ca.key.public_key()):
        raise ValueError(f"{path} is not a revocation list of this CA")
    try:
        number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        number = None
    return CaList(frozenset(entry.serial_number for entry in crl), number)


def revoked_serials(ca: DevCA, crl_path: str | Path) -> frozenset:
    """The serial numbers already on the CA's list at `crl_path` (none when it does not exist)."""
    crl = current_crl(ca, crl_path)
    return crl.revoked if crl is not None else frozenset()


def write_crl(ca: DevCA, serials, crl_path: str | Path, *, now: datetime | None = None,
              next_update: datetime | None = None, number: int | None = None) -> None:
    """A CRL signed by `ca` listing `serials`, written atomically to `crl_path` (PEM). `number` (the
    CRLNumber extension) orders lists: a reader never lets a lower one replace a higher one.
    `next_update` (default `now` + CRL_DAYS): when readers stop trusting it (past a grace)."""
    now = now or datetime.now(UTC)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca.cert.subject)
               .last_update(now).next_update(next_update or now + timedelta(days=CRL_DAYS)))
    if number is not None:
        builder = builder.add_extension(x509.CRLNumber(number), critical=False)
    for serial in sorted(serials):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build())
    crl = builder.sign(ca.key, hashes.SHA256())
    save_atomically(Path(crl_path), crl.public_bytes(serialization.Encoding.PEM).decode("ascii"), mode=0o644)


def revoke(ca: DevCA, serial: int, crl_path: str | Path, *, now: datetime | None = None) -> frozenset:
    """Adds `serial` to the CA's revocation list at `crl_path`, numbered one above the list there;
    answers the serials now on it."""
    before = current_crl(ca, crl_path)
    serials = (before.revoked if before is not None else frozenset()) | {serial}
    write_crl(ca, serials, crl_path, now=now, number=(before.number or 0) + 1 if before is not None else 1)
    return serials


def _serial_to_revoke(args) -> int:
    if args.serial:
        return int(args.serial, 16)
    pem = CardImage.load(args.card).certificate_pem if args.card else Path(args.cert).read_text(encoding="ascii")
    return x509.load_pem_x509_certificate(pem.encode("ascii")).serial_number


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign,
        crl_sign=cert_sign, encipher_only=False, decipher_only=False)


def _private_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _parse_time(text: str) -> datetime:
    return _aware(datetime.fromisoformat(text))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eport-devca", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init-ca", help="create a CA key and self-signed certificate")
    init.add_argument("--out", required=True, help="directory for ca-key.pem and ca-cert.pem")
    init.add_argument("--name", default=DEFAULT_CA_NAME)
    init.add_argument("--days", type=int, default=DEFAULT_CA_DAYS)
    init.add_argument("--force", action="store_true", help="overwrite an existing CA")
    _issue_arguments(sub.add_parser("issue", help="issue a card image"))
    revoke_cmd = sub.add_parser("revoke", help="put a card's certificate on the CA's revocation list")
    revoke_cmd.add_argument("--ca", required=True, help="directory made by init-ca")
    which = revoke_cmd.add_mutually_exclusive_group(required=True)
    which.add_argument("--card", help="the card image JSON whose certificate is revoked")
    which.add_argument("--cert", help="the certificate (PEM) to revoke")
    which.add_argument("--serial", help="the certificate's serial number (hex)")
    revoke_cmd.add_argument("--crl", help=f"the CRL to update (default: DIR/{CA_CRL_FILE})")
    return parser


def _issue_arguments(issue: argparse.ArgumentParser) -> None:
    issue.add_argument("--ca", required=True, help="directory made by init-ca")
    issue.add_argument("--card-no", required=True)
    issue.add_argument("--card-type", required=True, choices=CARD_TYPES)
    issue.add_argument("--holder-name", required=True)
    issue.add_argument("--holder-id-number", required=True)
    issue.add_argument("--uscc", required=True)
    issue.add_argument("--pin", default="123456")  # a development card's PIN: it is no secret
    issue.add_argument("--not-before", type=_parse_time, help="ISO 8601; naive means UTC")
    issue.add_argument("--not-after", type=_parse_time, help="ISO 8601; naive means UTC")
    issue.add_argument("--days", type=int, default=DEFAULT_CARD_DAYS,
                       help="validity when --not-after is not given")
    issue.add_argument("--out", required=True, help="card image JSON to write")


def _init_ca(args, parser) -> None:
    if (Path(args.out) / CA_KEY_FILE).exists() and not args.force:
        parser.error(f"{args.out} already holds a CA (use --force to replace it)")
    save_ca(create_ca(args.name, days=args.days), args.out)
    print(f"CA written to {args.out}/{CA_KEY_FILE} and {args.out}/{CA_CERT_FILE}")


def _issue(args, parser) -> None:
    image = issue_card(
        load_ca(args.ca), card_no=args.card_no, card_type=args.card_type, holder_name=args.holder_name,
        holder_id_number=args.holder_id_number, uscc=args.uscc, pin=args.pin, not_before=args.not_before,
        not_after=args.not_after, days=args.days)
    image.save(args.out)
    print(f"card {image.card_no} written to {args.out}")


def _revoke(args, parser) -> None:
    crl_path = args.crl or Path(args.ca) / CA_CRL_FILE
    serial = _serial_to_revoke(args)
    serials = revoke(load_ca(args.ca), serial, crl_path)
    print(f"certificate {serial:x} revoked; {crl_path} lists {len(serials)}")


_COMMANDS = {"init-ca": _init_ca, "issue": _issue, "revoke": _revoke}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        _COMMANDS[args.command](args, parser)
    except (ValueError, OSError) as exc:  # CardImageError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

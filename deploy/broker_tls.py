"""TLS material for a broker of our own (compose): a CA and the broker's server certificate.

A deployment whose RabbitMQ has a certificate from its own CA uses that instead, and gives the
services that CA's certificate (AMQP_SSL's ca_certs)."""
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from eport_card.devca import create_ca

SERVER_DAYS = 825


def server_certificate(ca, host, days=SERVER_DAYS):
    """(key, certificate) of the broker, for the DNS name `host`, signed by `ca`."""
    now = datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return key, cert


def write_tls(directory, host, write_private):
    """ca.pem, server.pem and server.key under `directory` (the CA's key is not kept)."""
    directory = Path(directory)
    ca = create_ca("E-Port broker CA")
    key, cert = server_certificate(ca, host)
    pem = serialization.Encoding.PEM
    write_private(directory / "ca.pem", ca.cert_pem)
    write_private(directory / "server.pem", cert.public_bytes(pem).decode())
    write_private(directory / "server.key", key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode())

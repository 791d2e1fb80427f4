"""Outside development a service refuses a missing, placeholder, short, non-random or reused secret,
naming it and saying why; development defaults exist only with EPORT_ENV=development."""
import base64
import re
import secrets
from pathlib import Path

import pytest

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from contracts.tokens import new_private_pem
from services.card.trust import TrustAnchor
from services.common import settings
from services.common.secret_rules import SecretRefused, StartRefused

pytestmark = pytest.mark.unit
EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "secrets.env.example"
NAMES = ("EPORT_CIPHER_KEY", "EPORT_INDEX_KEY", "EPORT_PII_KEK")


def good():
    return {"EPORT_CIPHER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "EPORT_INDEX_KEY": secrets.token_hex(32),
            "EPORT_PII_KEK": base64.b64encode(secrets.token_bytes(32)).decode()}


@pytest.fixture
def production(monkeypatch, tmp_path):
    monkeypatch.setenv("EPORT_ENV", "production")
    monkeypatch.setenv("EPORT_VAR", str(tmp_path))
    for name, value in good().items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def refusal(name):
    with pytest.raises(SecretRefused) as caught:
        settings.secret(name)
    assert caught.value.name == name
    return caught.value.reason


def test_good_secrets_are_used(production):
    for name in NAMES:
        assert settings.secret(name) == settings.os.environ[name]


def test_every_value_of_the_secrets_example_is_refused_as_a_placeholder(production):
    values = dict(re.findall(r"^(\w+)=(.*)$", EXAMPLE.read_text(), flags=re.M))
    # the SMS provider's two are refused by notify (tests/integration/test_sms_tencent.py); the store
    # key is each service's own (deploy/store_secrets.py), not in the shared example
    assert set(values) == {"EPORT_INDEX_KEY", "EPORT_PII_KEK", "SMS_TENCENT_SECRET_ID", "SMS_TENCENT_SECRET_KEY"}
    for name, value in values.items():
        production.setenv(name, value)
    for name in ("EPORT_INDEX_KEY", "EPORT_PII_KEK"):
        assert refusal(name) == "it is a placeholder, not a key"


@pytest.mark.parametrize("name, value, why", [
    ("EPORT_CIPHER_KEY", "", "it is not set"),
    # the old example: lenient base64 decoding skips the dashes and finds an AES-192 key in it
    ("EPORT_CIPHER_KEY", "REPLACE-with-base64-of-32-random-bytes", "it is a placeholder, not a key"),
    ("EPORT_CIPHER_KEY", "Zm9vYmFy-" + base64.b64encode(secrets.token_bytes(24)).decode(), "it is not strict base64"),
    ("EPORT_CIPHER_KEY", base64.b64encode(secrets.token_bytes(20)).decode(), "it decodes to 20 bytes; an AES key"),
    ("EPORT_CIPHER_KEY", base64.b64encode(b"\0" * 32).decode(), "its bytes repeat too much"),
    ("EPORT_INDEX_KEY", secrets.token_hex(16), "it holds 16 bytes; at least 32 random bytes"),
    ("EPORT_INDEX_KEY", "correct horse battery staple, but long enough", "it is neither hex nor strict base64"),
    ("EPORT_INDEX_KEY", "ab" * 32, "its bytes repeat too much"),
    ("EPORT_INDEX_KEY", "REPLACE-with-64-hex-characters", "it is a placeholder, not a key"),
])
def test_unfit_secrets_are_refused_saying_why_and_not_showing_them(production, name, value, why):
    production.setenv(name, value)
    with pytest.raises(SecretRefused) as caught:
        settings.secret(name)
    assert caught.value.name == name and caught.value.reason.startswith(why), caught.value.reason
    assert str(caught.value).startswith(f"{name} refused: ")
    assert not value or value not in str(caught.value)


def test_a_secret_the_same_as_another_is_refused(production):
    shared = base64.b64encode(secrets.token_bytes(32)).decode()
    production.setenv("EPORT_CIPHER_KEY", shared)
    production.setenv("EPORT_INDEX_KEY", shared)
    assert refusal("EPORT_INDEX_KEY") == "it is the same key as EPORT_CIPHER_KEY; every secret needs its own"
    # the same 32 bytes in another spelling are the same key too
    production.setenv("EPORT_INDEX_KEY", base64.b64decode(shared).hex())
    assert refusal("EPORT_INDEX_KEY").startswith("it is the same key as EPORT_CIPHER_KEY")


def test_identitys_token_keys_must_be_a_file_of_p256_keys(production, tmp_path):
    production.delenv("EPORT_TOKEN_KEYS", raising=False)
    with pytest.raises(SecretRefused, match="EPORT_TOKEN_KEYS refused: it is not set"):
        settings.token_signing_keys()
    (tmp_path / "rsa.pem").write_text(rsa.generate_private_key(65537, 2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode())
    for path, why in ((tmp_path / "missing.pem", "No such file"), (tmp_path / "rsa.pem", "EC P-256")):
        production.setenv("EPORT_TOKEN_KEYS", str(path))
        with pytest.raises(SecretRefused, match=why):
            settings.token_signing_keys()
    assert not (tmp_path / "token-keys.pem").exists()  # no development key outside development
    production.setenv("EPORT_TOKEN_KEYS", str(tmp_path / "keys.pem"))
    (tmp_path / "keys.pem").write_text(new_private_pem())
    assert len(settings.token_signing_keys()) == 1


def test_development_defaults_only_in_development(production, tmp_path):
    production.delenv("EPORT_INDEX_KEY")
    assert refusal("EPORT_INDEX_KEY") == "it is not set"
    assert not (tmp_path / "dev-secrets.json").exists()
    production.setenv("EPORT_ENV", "development")
    assert len(settings.secret("EPORT_INDEX_KEY")) == 64
    assert (tmp_path / "dev-secrets.json").exists()


def test_without_a_ca_certificate_a_production_start_refuses_instead_of_making_one(production, tmp_path):
    production.delenv("CARD_CA_CERT", raising=False)
    with pytest.raises(StartRefused, match="CARD_CA_CERT is not set"):
        TrustAnchor.from_env()
    assert not (tmp_path / "card-ca").exists()
    production.setenv("EPORT_ENV", "development")
    assert "BEGIN CERTIFICATE" in TrustAnchor.from_env().pem()

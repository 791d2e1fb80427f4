"""A service started outside development with unfit secrets, or card without a CA certificate,
exits at once saying which setting and why (the container's entrypoint, run for real)."""
import base64
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from eport_card.devca import CA_CERT_FILE, create_ca, save_ca

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def serve(service, tmp_path, **extra):
    # a proper KEK and key folder (apart from EPORT_VAR = tmp_path): not what is tested
    env = dict(os.environ, EPORT_ENV="production", EPORT_VAR=str(tmp_path), LOG_LEVEL="WARNING",
               EPORT_PII_KEK=base64.b64encode(secrets.token_bytes(32)).decode(),
               EPORT_KEY_STORE=str(tmp_path.parent / f"{tmp_path.name}-keys"))
    for name in ("CARD_CA_CERT", "CARD_CRL"):
        env.pop(name, None)
    env.update(extra)
    done = subprocess.run([sys.executable, "-m", "deploy.serve", service], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr


def test_identity_refuses_the_secrets_example(tmp_path):
    example = dict(re.findall(r"^(\w+)=(.*)$", (ROOT / "deploy" / "secrets.env.example").read_text(), flags=re.M))
    # and the store key of its own (deploy/store_secrets.py), a proper one: the example's are refused
    # and a proper key of the personal keys: the example's is refused too, and would be refused first
    code, output = serve("identity", tmp_path, **{**example, "EPORT_CIPHER_KEY": base64.b64encode(
        secrets.token_bytes(32)).decode(), "EPORT_PII_KEK": base64.b64encode(secrets.token_bytes(32)).decode()})
    assert code != 0
    assert "EPORT_INDEX_KEY refused: it is a placeholder, not a key" in output, output[-2000:]


def test_identity_refuses_to_start_without_its_store_key(tmp_path):
    code, output = serve("identity", tmp_path, EPORT_INDEX_KEY=secrets.token_hex(32), EPORT_CIPHER_KEY="")
    assert code != 0
    assert "EPORT_CIPHER_KEY refused: it is not set" in output, output[-2000:]


def test_identity_refuses_to_start_without_the_key_of_the_personal_keys(tmp_path):
    code, output = serve("identity", tmp_path, EPORT_INDEX_KEY=secrets.token_hex(32),
                         EPORT_CIPHER_KEY=base64.b64encode(secrets.token_bytes(32)).decode(), EPORT_PII_KEK="")
    assert code != 0
    assert "EPORT_PII_KEK refused: it is not set" in output, output[-2000:]


def test_card_refuses_to_start_without_a_ca_certificate(tmp_path):
    code, output = serve("card", tmp_path, EPORT_CIPHER_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
                         EPORT_INDEX_KEY=secrets.token_hex(32))
    assert code != 0
    assert "CARD_CA_CERT is not set" in output, output[-2000:]
    assert not (tmp_path / "card-ca").exists()


def test_card_refuses_to_start_without_a_revocation_list(tmp_path):
    save_ca(create_ca(), tmp_path / "ca")
    code, output = serve("card", tmp_path, EPORT_CIPHER_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
                         EPORT_INDEX_KEY=secrets.token_hex(32), CARD_CA_CERT=str(tmp_path / "ca" / CA_CERT_FILE))
    assert code != 0
    assert "CARD_CRL is not set" in output, output[-2000:]


def test_notify_refuses_the_outbox_outside_development(tmp_path):
    code, output = serve("notify", tmp_path, EPORT_CIPHER_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
                         EPORT_INDEX_KEY=secrets.token_hex(32), SMS_PROVIDER="outbox", SMS_OUTBOX_ALLOWED="")
    assert code != 0
    assert "SMS_PROVIDER=outbox writes SMS codes to a file instead of sending them" in output, output[-2000:]


def proper_secrets():
    return {"EPORT_CIPHER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "EPORT_INDEX_KEY": secrets.token_hex(32)}


def test_a_service_refuses_a_key_store_inside_the_folder_of_its_stores(tmp_path):
    code, output = serve("identity", tmp_path, **proper_secrets(), EPORT_KEY_STORE="")  # its default: var/keys
    assert code != 0
    assert f"EPORT_KEY_STORE (not set: its default {tmp_path / 'keys'}) refused: it is inside the folder of " \
           "the event stores" in output, output[-2000:]
    code, output = serve("identity", tmp_path, **proper_secrets(), EPORT_KEY_STORE=str(tmp_path / "apart"))
    assert code != 0
    assert f"EPORT_KEY_STORE={tmp_path / 'apart'} refused" in output, output[-2000:]
    assert not (tmp_path / "apart").exists() and not (tmp_path / "keys").exists()


def test_a_service_refuses_a_key_store_others_may_read(tmp_path):
    keys = tmp_path.parent / f"{tmp_path.name}-keys"
    (keys / "identity").mkdir(parents=True, mode=0o700)
    keys.chmod(0o750)  # as a volume mounted with a group would be
    code, output = serve("identity", tmp_path, **proper_secrets())
    assert code != 0
    assert f"EPORT_KEY_STORE refused: {keys} is readable by its group or others (mode 0750)" in output, output[-2000:]

"""The per-person keys live apart from the event stores, readable by the service's user alone: outside
development a service refuses any other key folder (services/common/key_store_rules.py)."""
import base64
import os
import secrets
import stat
import uuid

import pytest

from services.common import bootstrap
from services.common.bootstrap import person_keys
from services.common.secret_rules import StartRefused

pytestmark = pytest.mark.unit


@pytest.fixture
def production(monkeypatch, tmp_path):
    monkeypatch.setenv("EPORT_ENV", "production")
    monkeypatch.setenv("EPORT_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("EVENT_STORE", "sqlite")
    monkeypatch.setenv("EPORT_CIPHER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
    monkeypatch.setenv("EPORT_INDEX_KEY", secrets.token_hex(32))
    monkeypatch.setenv("EPORT_PII_KEK", base64.b64encode(secrets.token_bytes(32)).decode())
    monkeypatch.delenv("EPORT_KEY_STORE", raising=False)
    monkeypatch.setattr(bootstrap, "_person_keys", {})
    return tmp_path


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_the_default_key_folder_inside_var_is_refused_outside_development(production):
    with pytest.raises(StartRefused, match=r"EPORT_KEY_STORE \(not set: its default .*var/keys\) refused: it is "
                                           r"inside the folder of the event stores"):
        person_keys("identity")


@pytest.mark.parametrize("where", ["var/keys", "var", "."])  # inside EPORT_VAR, EPORT_VAR itself, holding it
def test_a_key_folder_nested_with_var_is_refused(production, monkeypatch, where):
    monkeypatch.setenv("EPORT_KEY_STORE", str(production / where))
    with pytest.raises(StartRefused, match="EPORT_KEY_STORE=.* refused: it is .*the folder of the event stores"):
        person_keys("identity")


def test_a_link_into_var_is_refused_as_var_itself(production, monkeypatch):
    (production / "var" / "keys").mkdir(parents=True)
    (production / "looks-apart").symlink_to(production / "var" / "keys")
    monkeypatch.setenv("EPORT_KEY_STORE", str(production / "looks-apart"))
    with pytest.raises(StartRefused, match="refused: it is inside the folder of the event stores"):
        person_keys("identity")


def test_a_key_folder_apart_is_made_for_the_user_alone_whatever_the_umask(production, monkeypatch):
    monkeypatch.setenv("EPORT_KEY_STORE", str(production / "keys"))
    previous = os.umask(0o002)  # a permissive one: folders 0775, files 0664 unless asked otherwise
    try:
        person_keys("card").key_for(str(uuid.uuid4()))
    finally:
        os.umask(previous)
    key_file, = (production / "keys" / "card").glob("*.key")
    assert (mode(production / "keys"), mode(production / "keys" / "card"), mode(key_file)) == (0o700, 0o700, 0o600)


@pytest.mark.parametrize("opened", ["keys", "keys/card", "key file"])
def test_a_key_folder_or_key_file_others_may_read_is_refused(production, monkeypatch, opened):
    monkeypatch.setenv("EPORT_KEY_STORE", str(production / "keys"))
    person_keys("card").key_for(str(uuid.uuid4()))
    target = next((production / "keys" / "card").glob("*.key")) if opened == "key file" else production / opened
    target.chmod(0o644 if opened == "key file" else 0o750)
    monkeypatch.setattr(bootstrap, "_person_keys", {})  # the next process's start
    with pytest.raises(StartRefused, match=f"EPORT_KEY_STORE refused: {target} is readable by its group or others"):
        person_keys("card")


def test_development_keeps_its_keys_in_var(production, monkeypatch):
    monkeypatch.setenv("EPORT_ENV", "development")
    person_keys("identity").key_for(str(uuid.uuid4()))
    assert len(list((production / "var" / "keys" / "identity").glob("*.key"))) == 1

"""A store key's rotation (services/common/cipher.py, docs/RELIABILITY.md "Store keys"):
EPORT_CIPHER_KEY="new,old" encrypts with the new key and still reads what the old one sealed; once
the old one is gone, what it sealed is unreadable; every listed key is checked like one key."""
import base64
import secrets

import pytest

from services.common.cipher import AESCipher
from services.common.secret_rules import SecretRefused, check_secret

pytestmark = pytest.mark.unit


def key():
    return base64.b64encode(secrets.token_bytes(32)).decode()


def cipher(value):
    return AESCipher({"CIPHER_KEY": value})


def test_the_first_key_encrypts_and_every_listed_key_decrypts():
    old, new = key(), key()
    sealed_before = cipher(old).encrypt(b"an event of before")
    rotating = cipher(f"{new},{old}")
    sealed_after = rotating.encrypt(b"an event of after")
    assert rotating.decrypt(sealed_before) == b"an event of before"
    assert cipher(new).decrypt(sealed_after) == b"an event of after"  # sealed with the new key
    with pytest.raises(ValueError):
        cipher(old).decrypt(sealed_after)
    with pytest.raises(ValueError):  # the old key retired too early: its events are unreadable
        cipher(new).decrypt(sealed_before)


def test_each_listed_key_is_checked_as_a_key():
    index = secrets.token_hex(32)
    old, new = key(), key()
    check_secret("EPORT_CIPHER_KEY", {"EPORT_CIPHER_KEY": f"{new},{old}", "EPORT_INDEX_KEY": index})
    for listed, why in ((f"{new},{new}", "the same key twice"), (f"{new},REPLACE-ME", "placeholder"),
                        (f"{new},{base64.b64encode(b'x' * 20).decode()}", "20 bytes")):
        with pytest.raises(SecretRefused, match=why):
            check_secret("EPORT_CIPHER_KEY", {"EPORT_CIPHER_KEY": listed, "EPORT_INDEX_KEY": index})
    with pytest.raises(SecretRefused, match="same key as EPORT_INDEX_KEY"):
        shared = key()
        check_secret("EPORT_CIPHER_KEY", {"EPORT_CIPHER_KEY": f"{new},{shared}", "EPORT_INDEX_KEY": shared})

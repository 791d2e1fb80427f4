"""The SMS outbox's lines sealed (issue 24: nothing of a mobile in clear at rest, not in a copy of var/
taken before an erasure either). A line is

    {"to": <keyed digest of the mobile>, "sent_at": <ISO, UTC>, "sealed": base64(nonce + AES-GCM)}

the sealed part being the SMS itself, {mobile, purpose, code, text, sent_at}, with the key of its
mobile: one random key per mobile in the key store `sms-outbox` (services/common/person_keys.py, under
EPORT_KEY_STORE, wrapped by EPORT_PII_KEK), named by the same digest. `sent_at` stays beside it for the
outbox's prune. The digest is HMAC(EPORT_INDEX_KEY) of its own kind (services/common/digests.py), not
identity's MobileIndex one: a line does not lead to the index. Erasing a mobile discards its key (no
tombstone: the number may be registered again, by its holder or by whoever has it next, and gets a new
key; the old lines stay unreadable) and drops its lines.
"""
import base64
import binascii
import json
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.common.bootstrap import person_keys
from services.common.digests import index_digest
from services.common.person_keys import KeyUnreadable

STORE = "sms-outbox"
NONCE = 12


def keys():
    """The outbox's key store, read afresh at every use: another process (notify's erasure) may discard
    a key at any time, and a key cached here would seal lines that nothing can open."""
    return person_keys(STORE, cached=False)


def name_of(mobile):
    """The name of `mobile`'s key, and of its lines."""
    return index_digest(f"sms_outbox\x1f{mobile}")


def seal(sms):
    """The outbox line (bytes, newline ended) of `sms` {mobile, purpose, code, text, sent_at}."""
    name = name_of(sms["mobile"])
    nonce = secrets.token_bytes(NONCE)
    plain = json.dumps(sms, ensure_ascii=False).encode("utf-8")
    sealed = nonce + AESGCM(keys().key_for(name)).encrypt(nonce, plain, _bound(name, sms["sent_at"]))
    line = {"to": name, "sent_at": sms["sent_at"], "sealed": base64.b64encode(sealed).decode("ascii")}
    return (json.dumps(line) + "\n").encode("ascii")


class Opener:
    """Opens lines with the keys of the store, each key read once per Opener (one read of the outbox)."""

    def __init__(self, mobile=None):
        self.only = None if mobile is None else name_of(mobile)
        self._keys = {}

    def open(self, line):
        """The SMS of one line, or None: another mobile's (when one was asked), a key discarded or never
        here, a damaged or foreign line."""
        try:
            held = json.loads(line)
            name, sent_at, sealed = held["to"], held["sent_at"], base64.b64decode(held["sealed"], validate=True)
            if self.only is not None and name != self.only:
                return None
            key = self._key(name)
            if key is None:
                return None
            sms = json.loads(AESGCM(key).decrypt(sealed[:NONCE], sealed[NONCE:], _bound(name, sent_at)))
        except (ValueError, KeyError, TypeError, InvalidTag, binascii.Error):
            return None
        return sms if isinstance(sms, dict) else None

    def _key(self, name):
        if name not in self._keys:
            try:
                self._keys[name] = keys().find(name)  # ValueError for a name that is no key's
            except KeyUnreadable:  # a damaged key file, another KEK's: its lines are skipped
                self._keys[name] = None
        return self._keys[name]


def forget(mobile):
    """`mobile`'s key discarded (its lines then open no more); the name of its lines."""
    name = name_of(mobile)
    keys().discard(name)
    return name


def _bound(name, sent_at):
    return f"eport sms outbox|{name}|{sent_at}".encode()

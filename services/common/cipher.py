"""The AES-GCM cipher of every event store and of the audit log's payloads.

Its key, EPORT_CIPHER_KEY, is each service's own, and may name several, comma-separated, for a
rotation (docs/RELIABILITY.md "Store keys"): the first encrypts, each decrypts what it encrypted.

eventsourcing's AESCipher, with its key schedule made once: the library builds a new AESGCM
object for every event it encrypts or decrypts, which was a fifth of the cost of reading an event
back (a rebuild or a replay reads every event of a store). The bytes are the library's own
(nonce, tag, ciphertext), so stores written before this class read the same.
"""
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.cryptography import AESCipher as LibraryAESCipher

from .nonces import SIZE as NONCE
from .nonces import nonce as random_nonce

TAG = 16


class AESCipher(LibraryAESCipher):
    def __init__(self, environment):
        keys = [k.strip() for k in (environment.get(self.CIPHER_KEY) or "").split(",") if k.strip()]
        super().__init__({self.CIPHER_KEY: keys[0] if keys else ""})  # the library checks the first
        self._aesgcm = AESGCM(self.key)
        # the keys being retired: events they sealed stay readable
        self._older = [AESGCM(LibraryAESCipher({self.CIPHER_KEY: k}).key) for k in keys[1:]]

    def encrypt(self, plaintext: bytes, associated: bytes | None = None) -> bytes:
        """`associated`: what the ciphertext is bound to (not in it): decrypting needs the same."""
        nonce = random_nonce()
        sealed = self._aesgcm.encrypt(nonce, plaintext, associated)
        return nonce + sealed[-TAG:] + sealed[:-TAG]

    def decrypt(self, ciphertext: bytes, associated: bytes | None = None) -> bytes:
        if len(ciphertext) < NONCE + TAG:
            raise ValueError("Damaged cipher text: too short for its nonce and tag")
        nonce, tag, encrypted = ciphertext[:NONCE], ciphertext[NONCE:NONCE + TAG], ciphertext[NONCE + TAG:]
        for aesgcm in (self._aesgcm, *self._older):
            try:
                return aesgcm.decrypt(nonce, encrypted + tag, associated)
            except InvalidTag:
                continue
        raise ValueError("Invalid cipher tag")

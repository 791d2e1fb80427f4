"""Per-person keys: one random 256-bit key per person per service, so that destroying it shreds every
personal field sealed with it (crypto-shredding, docs/PERSONAL_DATA.md; shared/API.md "Personal data").

A service gets its store from the wiring, `services.common.bootstrap.person_keys(service_name)` (one
instance per process and service, the one its Mapper seals with: services/common/sealing.py):

    keys = person_keys("identity")
    key = keys.key_for(user_id)   # made on first use (None never: an erased person raises PersonErased)
    keys.find(user_id)            # the key, or None: never made, or destroyed
    keys.destroy(user_id)         # the wrapped key gone for good (fsync), a tombstone left in its place
    keys.retire(legacy_id)        # as destroy, the tombstone named by the id's keyed digest (card's legacy ids)
    keys.forget(user_id)          # this process's cached copy dropped (erasure does it on every instance)

On disk (`EPORT_KEY_STORE`, default EPORT_VAR/keys/), apart from the event stores and their backups:
`<store>/<service>/<person_id>.key` holds the key wrapped (AES-GCM) by EPORT_PII_KEK, bound to its
service and person; `<person_id>.erased` is the tombstone of a destroyed one. A tombstone is never
removed: `key_for` of an erased person raises instead of making a new key for old events, so what was
sealed with the old key stays unreadable and what is sealed afterwards is never their data
(services/common/sealing.py stores the erased marker then). The KEK may list several keys,
comma-separated (a rotation): the first wraps, each unwraps what it wrapped.
"""
import os
import re
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .digests import Digests
from .durable import fsync_path
from .settings import secret

KEY_BYTES = 32
NONCE = 12
CACHE_SIZE = 4096  # keys held in memory per store: a replay meets each person's events many times
_ERASED = object()  # the cache's mark of a tombstone (never lifted, so safe to cache)


class PersonErased(Exception):
    """The person's key was destroyed (erasure): nothing can be sealed or opened for them any more."""

    def __init__(self, person_id):
        self.person_id = person_id
        super().__init__(f"the personal data of {person_id} was erased")


class KeyUnreadable(RuntimeError):
    """A wrapped key that no configured KEK opens (a wrong or retired EPORT_PII_KEK, a damaged file)."""


_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def person_id_of(person_id):
    """The canonical text of a person's id: a UUID's, or a plain word (a test's "u1"); ValueError for
    anything else, so that an id is never a path."""
    if isinstance(person_id, uuid.UUID):
        return str(person_id)
    try:
        return str(uuid.UUID(person_id))
    except (ValueError, TypeError, AttributeError):
        if isinstance(person_id, str) and _PLAIN_ID.fullmatch(person_id):
            return person_id
        raise ValueError(f"not a person's id: {person_id!r}") from None


class Wrapping:
    """EPORT_PII_KEK's AES-GCM over one key, bound to its service and person (a wrapped key copied
    to another person's name does not open)."""

    def __init__(self, keks):
        if not keks:
            raise ValueError("no key-encryption key")
        self._keks = [AESGCM(k) for k in keks]

    def wrap(self, service, person_id, key):
        nonce = secrets.token_bytes(NONCE)
        return nonce + self._keks[0].encrypt(nonce, key, _bound(service, person_id))

    def unwrap(self, service, person_id, wrapped):
        for kek in self._keks:
            try:
                return kek.decrypt(wrapped[:NONCE], wrapped[NONCE:], _bound(service, person_id))
            except InvalidTag:
                continue
        raise KeyUnreadable(f"the key of {person_id} in {service} opens with no configured EPORT_PII_KEK")


def _bound(service, person_id):
    return f"eport person key|{service}|{person_id}".encode()


class PersonKeys:
    """The keys of one service's persons. `folder` None keeps them in memory (EVENT_STORE=memory)."""

    def __init__(self, service, folder, keks, *, cache_size=CACHE_SIZE):
        self.service = service
        self.folder = None if folder is None else Path(folder) / service
        self._wrapping = Wrapping(keks)
        self._memory = {}  # folder None: person_id -> wrapped key or _ERASED
        self._cache = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        if self.folder is not None:  # the key folder and the service's, 0700: the user's alone (key_store_rules.py)
            self.folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.folder.mkdir(exist_ok=True, mode=0o700)

    # -- the interface ------------------------------------------------------------------------------
    def key_for(self, person_id):
        """The person's key, made (and stored durably) on first use; PersonErased once destroyed."""
        key = self._cache.get(person_id)  # a canonical id already cached: no parsing (a replay's path)
        if key is not None and key is not _ERASED:
            return key
        person_id = person_id_of(person_id)
        key = self._cached(person_id)
        if key is None:
            key = self._load(person_id)
        if key is None:
            key = self._create(person_id)
        if key is _ERASED:
            raise PersonErased(person_id)
        return key

    def find(self, person_id):
        """The person's key, or None: never made, or destroyed (`erased` tells which)."""
        key = self._cache.get(person_id)  # as in key_for
        if key is not None:
            return None if key is _ERASED else key
        person_id = person_id_of(person_id)
        key = self._cached(person_id) or self._load(person_id)
        return None if key is None or key is _ERASED else key

    def erased(self, person_id):
        person_id = person_id_of(person_id)
        return (self._cached(person_id) or self._load(person_id)) is _ERASED

    def destroy(self, person_id):
        """Destroys the person's key for good: the tombstone written and synced first, then the
        wrapped key overwritten, removed, and the removal synced. Idempotent."""
        person_id = person_id_of(person_id)
        with self._lock:
            if self.folder is None:
                self._memory[person_id] = _ERASED
            else:
                _write_durably(self._path(person_id, ".erased"), f"{time.time():.3f}\n".encode(), exclusive=False)
                _shred(self._path(person_id, ".key"))
                fsync_path(self.folder)
            self._remember(person_id, _ERASED)

    def retire(self, person_id):
        """Destroys the key as `destroy` does, for a person id that must not stay readable itself (a card
        index's legacy id, the uuid5 of a plain card number, services/card/application.py): its tombstone
        is named by the id's keyed digest (EPORT_INDEX_KEY), so the key folder names it to nobody without
        that key, and what the key sealed still opens to the erased marker. Idempotent."""
        person_id = person_id_of(person_id)
        with self._lock:
            if self.folder is None:
                self._memory[person_id] = _ERASED
            else:
                _write_durably(self._retired_path(person_id), b"", exclusive=False)
                _shred(self._path(person_id, ".key"))
                self._path(person_id, ".erased").unlink(missing_ok=True)
                fsync_path(self.folder)
            self._remember(person_id, _ERASED)

    def discard(self, person_id):
        """Destroys the key as `destroy` does but leaves no tombstone: the next `key_for` makes a new
        key. For what may come back without being the same (a mobile, registered again by someone else
        after an erasure: services/notify/outbox_seal.py); what the old key sealed stays unreadable."""
        person_id = person_id_of(person_id)
        with self._lock:
            if self.folder is None:
                self._memory.pop(person_id, None)
            else:
                _shred(self._path(person_id, ".key"))
                fsync_path(self.folder)
            self._cache.pop(person_id, None)

    def forget(self, person_id=None):
        """Drops this process's cached key of the person (None: of everyone); the next use reads the
        store again, so a key another instance destroyed is not used from memory."""
        with self._lock:
            if person_id is None:
                self._cache.clear()
            else:
                self._cache.pop(person_id_of(person_id), None)

    def persons(self):
        """Every person with a key or a tombstone here (for operators and the erasure's checks)."""
        if self.folder is None:
            return sorted(self._memory)
        return sorted({p.stem for p in self.folder.iterdir() if p.suffix in (".key", ".erased")})

    # -- inside -------------------------------------------------------------------------------------
    def _path(self, person_id, suffix):
        return self.folder / f"{person_id}{suffix}"

    def _retired_path(self, person_id):
        return self.folder / f"{Digests(secret('EPORT_INDEX_KEY')).of('retired key', self.service, person_id)}.retired"

    def _cached(self, person_id):
        with self._lock:
            key = self._cache.get(person_id)
            if key is not None:
                self._cache.move_to_end(person_id)
            return key

    def _remember(self, person_id, key):
        self._cache[person_id] = key
        self._cache.move_to_end(person_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _load(self, person_id):
        """The key or _ERASED from the store (and into the cache), or None when it has neither."""
        if self.folder is None:
            wrapped = self._memory.get(person_id)
        elif self._path(person_id, ".erased").exists():
            wrapped = _ERASED
        else:
            try:
                wrapped = self._path(person_id, ".key").read_bytes()
            except FileNotFoundError:  # never made, or retired (only then is the digest computed)
                wrapped = _ERASED if self._retired_path(person_id).exists() else None
        if wrapped is None:
            return None
        key = wrapped if wrapped is _ERASED else self._wrapping.unwrap(self.service, person_id, wrapped)
        with self._lock:
            self._remember(person_id, key)
        return key

    def _create(self, person_id):
        key = secrets.token_bytes(KEY_BYTES)
        wrapped = self._wrapping.wrap(self.service, person_id, key)
        if self.folder is None:
            with self._lock:
                self._memory.setdefault(person_id, wrapped)
        else:
            temporary = self._path(person_id, f".{secrets.token_hex(8)}.new")
            _write_durably(temporary, wrapped, exclusive=True)
            try:
                os.link(temporary, self._path(person_id, ".key"))  # never replaces: the first writer wins
            except FileExistsError:
                pass
            finally:
                temporary.unlink()
            fsync_path(self.folder)
            if self._path(person_id, ".erased").exists():  # destroyed meanwhile: the tombstone wins
                _shred(self._path(person_id, ".key"))
        return self._load(person_id)


def _write_durably(path, data, *, exclusive):
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _shred(path):
    """Overwrites the wrapped key before removing it (best effort on a journaling or flash file
    system: the KEK still guards a copy left in a free block), then removes it."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return
    try:
        os.write(fd, b"\0" * os.fstat(fd).st_size)
        os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink(missing_ok=True)

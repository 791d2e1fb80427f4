"""SMS providers of the notify service.

`SMS_PROVIDER` picks one (default `outbox`): `tencent` (sms_tencent.py, Tencent Cloud SMS) sends
real texts. The outbox provider is what development and the tests use instead: one line per SMS
appended to $SMS_OUTBOX or var/sms-outbox.jsonl, the SMS {mobile, purpose, code, text, sent_at}
sealed with a key of its mobile (outbox_seal.py: nothing of the mobile in clear), `read_outbox` the
one reader (the tests, `make run`'s display, `eport demo`); never kept longer than a code is valid
(each send drops the lines older than SMS_CODE_TTL). Outside
EPORT_ENV=development notify refuses to start with it unless SMS_OUTBOX_ALLOWED=true: a production
platform that writes codes to a file instead of sending them is a mistake, not a choice.
"""
import fcntl
import json
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from contracts.identity import SMS_CODE_TTL
from services.common.settings import StartRefused, development, setting, var_dir

from . import outbox_seal


class SmsFailed(Exception):
    """The provider did not send it: its error `code` (never the SMS's), `request_id`, and whether
    another try may succeed."""

    def __init__(self, code, request_id=None, retry=False):
        super().__init__(f"{code} (request {request_id})")
        self.code, self.request_id, self.retry = code, request_id, retry


def outbox_path():
    """Where the outbox provider appends (the launcher shows it, tests read it)."""
    return Path(setting("SMS_OUTBOX") or var_dir() / "sms-outbox.jsonl")


class SmsProvider:
    """Sends one SMS; raises on failure."""

    def send(self, mobile, purpose, code, text):
        raise NotImplementedError


class OutboxProvider(SmsProvider):
    # One lock per process for the threads of this process; flock for the other processes
    # (several notify instances, or a test reading while notify writes).
    _lock = threading.Lock()

    def __init__(self, path=None):
        self._path = Path(path) if path else None

    @property
    def path(self):
        # Read at send time: the environment (e.g. a test's own var/) decides, not import time.
        if self._path is not None:
            return self._path
        return outbox_path()

    def send(self, mobile, purpose, code, text):
        now = datetime.now(UTC)
        sms = {"mobile": mobile, "purpose": purpose, "code": code, "text": text, "sent_at": now.isoformat()}
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            fd = _open_locked(path)
            if _prune(fd, path, (now - timedelta(seconds=SMS_CODE_TTL)).isoformat()):
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
                fd = _open_locked(path)  # the pruned file took the outbox's name
            try:  # sealed under the lock: forget_mobile's key discarding cannot fall between key and line
                data = outbox_seal.seal(sms)
                written = 0
                while written < len(data):  # one write in practice; O_APPEND keeps lines whole
                    written += os.write(fd, data[written:])
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


def _open_locked(path):
    """The outbox open for appending, under its flock; opened again when another writer's prune
    replaced the file while this one waited for the lock (else its line would go to the old file)."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd
        except FileNotFoundError:
            pass
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _prune(fd, path, oldest):
    """Whether the outbox's lines sent before `oldest` (ISO, UTC) were dropped, under the caller's
    flock. The kept lines go to a new file that takes the outbox's name, so a reader that takes no
    lock (the tests, `make run`'s display) sees the old file or the new one, never one half written.
    Lines are in the order they were sent, so only the first one is read when nothing is due."""
    with os.fdopen(os.dup(fd), "rb") as f:
        f.seek(0)
        first = f.readline()
        if not first or _sent_at(first) >= oldest:
            return False
        lines = [(line, _fields(line)) for line in [first, *f]]  # each line parsed once
    kept = [(line, held) for line, held in lines if (held.get("sent_at") or "") >= oldest]
    _replace(path, b"".join(line for line, _ in kept))
    _discard_keys_left_unused(lines, kept)
    return True


def _discard_keys_left_unused(lines, kept):
    """The keys of the mobiles none of whose lines is `kept` (both (line, fields) pairs): the key
    store holds a mobile's digest and key as long as its lines, not forever. A mobile sent an SMS
    again gets a new key (seal runs under the same lock, after the prune)."""
    left = {held.get("to") for _, held in kept}
    unused = {held.get("to") for _, held in lines} - left - {None}
    if unused:
        store = outbox_seal.keys()
        for name in unused:
            store.discard(name)


def _replace(path, kept):
    """The outbox holds `kept` from now on: a new file that takes its name (see _prune)."""
    fresh = path.with_name(f"{path.name}.{os.getpid()}.prune")
    out = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        written = 0
        while written < len(kept):
            written += os.write(out, kept[written:])
    finally:
        os.close(out)
    os.replace(fresh, path)


def forget_mobile(mobile, path=None):
    """Its holder was erased (services/common/erasure.py): the key of `mobile` discarded, so that no line
    sealed with it opens again, in the outbox or in a copy of it, and its lines dropped (a line of the
    clear format of before too); how many were dropped."""
    path = Path(path) if path else outbox_path()
    name = outbox_seal.forget(mobile)  # a line sealed since, with a new key, is dropped below or is a new SMS
    if not path.exists():
        return 0
    with OutboxProvider._lock:
        fd = _open_locked(path)
        try:
            with os.fdopen(os.dup(fd), "rb") as f:
                f.seek(0)
                lines = f.readlines()
            kept = [line for line in lines if _field(line, "to") != name and _field(line, "mobile") != mobile]
            if len(kept) != len(lines):
                _replace(path, b"".join(kept))
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
    return len(lines) - len(kept)


def read_outbox(path=None, mobile=None):
    """The SMS of the outbox this process has the keys of, oldest first, each {mobile, purpose, code,
    text, sent_at} (only `mobile`'s when given); a line half written, damaged, foreign or of a discarded
    key is skipped. No lock: the outbox is replaced whole when pruned (_replace)."""
    path = Path(path) if path else outbox_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    return opened_lines(raw.split(b"\n")[:-1], mobile)  # the last is not ended yet (or empty)


def opened_lines(lines, mobile=None):
    """The SMS of whole outbox `lines` (see read_outbox), for a reader that follows the file."""
    opener = outbox_seal.Opener(mobile)
    return [sms for sms in map(opener.open, lines) if sms is not None]


def _sent_at(line):
    return _field(line, "sent_at") or ""  # a damaged line holds nothing worth keeping


def _field(line, name):
    return _fields(line).get(name)


def _fields(line):
    """A line's fields; {} for a damaged one (it holds nothing worth keeping)."""
    try:
        held = json.loads(line)
    except ValueError:
        return {}
    return held if isinstance(held, dict) else {}


def _providers():
    from .sms_tencent import TencentProvider  # the SDK is loaded only where it is used
    return {"outbox": OutboxProvider, "tencent": TencentProvider}


PROVIDER_NAMES = ("outbox", "tencent")


def provider_from_env():
    """The provider SMS_PROVIDER names, or StartRefused saying why notify must not start with it."""
    name = setting("SMS_PROVIDER")
    if name not in PROVIDER_NAMES:
        raise StartRefused(f"SMS_PROVIDER={name!r}: expected one of {', '.join(PROVIDER_NAMES)}")
    if name == "outbox" and not development() and setting("SMS_OUTBOX_ALLOWED") != "true":
        raise StartRefused("SMS_PROVIDER=outbox writes SMS codes to a file instead of sending them: refused outside "
                           "EPORT_ENV=development (set SMS_PROVIDER=tencent, or SMS_OUTBOX_ALLOWED=true for a "
                           "platform that must send no SMS)")
    return _providers()[name]()


if __name__ == "__main__":  # README's code(): `python -m services.notify.sms MOBILE`, the newest code sent to it
    import sys

    found = read_outbox(mobile=sys.argv[1]) if len(sys.argv) == 2 else None
    if not found:
        sys.exit(f"usage: python -m services.notify.sms MOBILE (no SMS to it in {outbox_path()} that this var/ opens)")
    print(found[-1]["code"])

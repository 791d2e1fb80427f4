"""SMS providers of the notify service.

`SMS_PROVIDER` picks one (default `outbox`). The outbox provider is what development and the tests
use instead of a real SMS gateway: one JSON line per SMS, {mobile, purpose, code, text, sent_at},
appended to $SMS_OUTBOX or var/sms-outbox.jsonl. A real gateway is one more SmsProvider subclass
registered in PROVIDERS.
"""
import fcntl
import json
import os
import threading
from datetime import datetime, UTC
from pathlib import Path

from services.common.settings import setting, var_dir


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
        line = json.dumps({"mobile": mobile, "purpose": purpose, "code": code, "text": text,
                           "sent_at": datetime.now(UTC).isoformat()}, ensure_ascii=False) + "\n"
        data = line.encode("utf-8")
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                written = 0
                while written < len(data):  # one write in practice; O_APPEND keeps lines whole
                    written += os.write(fd, data[written:])
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


PROVIDERS = {"outbox": OutboxProvider}


def provider_from_env():
    name = setting("SMS_PROVIDER")
    try:
        return PROVIDERS[name]()
    except KeyError:
        raise ValueError(f"SMS_PROVIDER={name!r}: expected one of {', '.join(PROVIDERS)}") from None

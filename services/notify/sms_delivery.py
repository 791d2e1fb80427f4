"""Delivery of one SMS through the provider: tries again with back-off when the provider says
another try may work (SMS_ATTEMPTS, SMS_RETRY_DELAY doubling), and parks what still failed.

A parked SMS is one line in EPORT_VAR/sms-parked.jsonl (mode 0600): when, the purpose, the keyed
digest that names the mobile's lines in the outbox too (outbox_seal.name_of: nothing of the mobile,
not even masked, in a copy of var/ taken before an erasure; issue 24), the provider's error code and
request id, the tries. Never the code: it is worth nothing once expired, and an operator has no
business reading it. Notify counts sent, retried and parked
SMS and `eport status` shows them (the row `sms` of notify: stored = parked since start).
"""
import json
import logging
import os
import threading
import time
from datetime import UTC, datetime

from contracts.masking import mask_mobile
from services.common.settings import setting, var_dir

from .outbox_seal import name_of
from .sms import SmsFailed

log = logging.getLogger(__name__)
MAX_DELAY = 10.0


def parked_path():
    return var_dir() / "sms-parked.jsonl"


class Delivery:
    """`provider.send` with retries; `sleep` is injected (tests)."""

    def __init__(self, provider, sleep=time.sleep):
        self.provider, self.sleep = provider, sleep
        self.counts = {"sent": 0, "retried": 0, "parked": 0}
        self._lock = threading.Lock()

    def _count(self, what):
        with self._lock:
            self.counts[what] += 1

    def send(self, mobile, purpose, code, text):
        attempts, delay = max(1, int(setting("SMS_ATTEMPTS"))), float(setting("SMS_RETRY_DELAY"))
        for attempt in range(1, attempts + 1):
            try:
                self.provider.send(mobile, purpose, code, text)
            except SmsFailed as failure:
                if failure.retry and attempt < attempts:
                    log.warning("SMS for %s not sent (%s), try %d of %d", purpose, failure.code, attempt, attempts)
                    self._count("retried")
                    self.sleep(min(delay * 2 ** (attempt - 1), MAX_DELAY))
                    continue
                self.park(mobile, purpose, failure, attempt)
                return False
            self._count("sent")
            return True

    def park(self, mobile, purpose, failure, attempts):
        log.error("SMS for %s parked after %d tries: %s (request %s)", purpose, attempts, failure.code,
                  failure.request_id)
        self._count("parked")
        line = json.dumps({"parked_at": datetime.now(UTC).isoformat(), "purpose": purpose,
                           "to": name_of(mobile), "error": failure.code,
                           "request_id": failure.request_id, "attempts": attempts}) + "\n"
        fd = os.open(parked_path(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    @staticmethod
    def forget_parked(mobile):
        """Drop the parked lines of `mobile` (by its digest; a line of before by its masked mobile): its
        holder was erased; how many."""
        path = parked_path()
        if not path.exists():
            return 0
        lines = path.read_bytes().splitlines(keepends=True)
        name, masked = json.dumps(name_of(mobile)), json.dumps(mask_mobile(mobile))
        kept = [line for line in lines if f'"to": {name}'.encode() not in line
                and f'"mobile": {masked}'.encode() not in line]
        if len(kept) != len(lines):
            fresh = path.with_name(f"{path.name}.{os.getpid()}.forget")
            fresh.write_bytes(b"".join(kept))
            os.chmod(fresh, 0o600)
            os.replace(fresh, path)
        return len(lines) - len(kept)

    def operations_status(self):
        """A row of `eport status`: SMS parked (stored) since this process started, sent, retried."""
        return {"store": "sms", "stored": self.counts["parked"], "published": None, "lag": None, "kept": None,
                **{f"sms_{k}": v for k, v in self.counts.items()}}

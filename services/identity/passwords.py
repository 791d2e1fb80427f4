"""Password hashing (argon2id, off the eventlet hub) and the password policy."""
import os
from functools import lru_cache
from pathlib import Path

import eventlet.semaphore
import eventlet.tpool
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from contracts import errors as e
from contracts.errors import DomainError
from services.common.settings import setting

# OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane.
ARGON2 = PasswordHasher(memory_cost=19456, time_cost=2, parallelism=1)

MIN_LENGTH = 8
MAX_LENGTH = 64
COMMON_PASSWORDS_FILE = Path(__file__).with_name("data") / "common-passwords.txt"


HASHES_BUSY_RETRY = 1  # seconds: a hash takes tens of milliseconds, the queue empties within one


HASH_NICENESS = 10  # of the threads that hash: see _niced


def _niced(fn, *args):
    # A hash thread yields the CPU to every thread and process that is not hashing: the service's
    # own hub (authenticate, get_user), the gateway, authz and the broker. A login flood's hashes
    # then take the cores only when nothing else wants them, instead of slowing permission checks
    # by a share each (bench/abuse.py). On Linux, setpriority(PRIO_PROCESS, 0) sets the calling
    # thread's niceness only; raising it needs no privilege, and the thread keeps it.
    if os.getpriority(os.PRIO_PROCESS, 0) < HASH_NICENESS:
        os.setpriority(os.PRIO_PROCESS, 0, HASH_NICENESS)
    return fn(*args)


def _in_a_niced_thread(fn, *args):
    return eventlet.tpool.execute(_niced, fn, *args)


def _default_parallel_hashes():
    return int(setting("IDENTITY_HASH_THREADS") or (os.cpu_count() or 1) + 1)


class HashesBusy(DomainError):
    """Every hash thread is busy and IDENTITY_HASH_QUEUE hashes already wait: 503 at once, the
    caller comes back in `retry_after` seconds."""
    code = e.SERVICE_UNAVAILABLE
    default_message = "Too many password checks at once; try again shortly."
    default_details = {"retry_after": HASHES_BUSY_RETRY}


class Passwords:
    """Hashes and verifies in a real OS thread (`eventlet.tpool`): an argon2 call holds the CPU for
    tens of milliseconds, and on the hub's thread it would stall every other request of the
    service. argon2-cffi releases the GIL, so two hashes use two cores. The threads are niced
    (HASH_NICENESS): they hash with what the machine has left over.

    At most one hash per core, plus one, runs at a time (the others wait green). The one more keeps
    every core hashing while the hub hands a finished hash back and starts the next: with one per
    core the machine was 88 to 90 % busy under logins, with one more 96 to 97 % (bench/login.py).
    Many more would not go faster, would take 19 MiB each, and would crowd the hub's thread out of
    the CPU, so that requests that need no hash would wait behind them.

    At most `queue` more wait for a thread (IDENTITY_HASH_QUEUE); one beyond that is refused at once
    (HashesBusy, 503) before anything is hashed or stored: under a login flood, waiting would only
    hold the service's workers until the caller's deadline, and every other request behind them.
    """

    def __init__(self, hasher=ARGON2, offload=_in_a_niced_thread, parallel=None, queue=None):
        self.hasher = hasher
        self._offload = offload
        self._slots = eventlet.semaphore.Semaphore(parallel or _default_parallel_hashes())
        self._queue = int(setting("IDENTITY_HASH_QUEUE")) if queue is None else queue
        self._waiting = 0  # green threads: no lock needed around the count
        self._dummy_hash = None

    def offload(self, fn, *args):
        if self._slots.locked() and self._waiting >= self._queue:
            raise HashesBusy()
        self._waiting += 1
        try:
            self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            return self._offload(fn, *args)
        finally:
            self._slots.release()

    def hash(self, password):
        return self.offload(self.hasher.hash, password)

    def verify(self, password_hash, password):
        try:
            return self.offload(self.hasher.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def spend_dummy_verify(self, password):
        """As long as a real verify: an unknown account must not answer faster than a known one."""
        if self._dummy_hash is None:
            self._dummy_hash = self.offload(self.hasher.hash, "dummy password of no account")
        self.verify(self._dummy_hash, password)


@lru_cache(maxsize=1)
def common_passwords():
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def weaknesses(password, *, mobile=None, id_number=None):
    """Why `password` may not be used (empty when it may): length 8 to 64, not one of the 1,000
    most common passwords, not containing the user's mobile or ID number. No composition rules."""
    reasons = []
    if len(password) < MIN_LENGTH:
        reasons.append(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        reasons.append(f"Use at most {MAX_LENGTH} characters.")
    if password.strip().lower() in common_passwords():
        reasons.append("This is one of the most common passwords.")
    folded = password.upper()
    if mobile and mobile in folded:
        reasons.append("The password must not contain your mobile number.")
    if id_number and id_number.upper() in folded:
        reasons.append("The password must not contain your ID number.")
    return reasons

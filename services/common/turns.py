"""Runs of one command in one process take turns.

The broker's redelivery of a request and the client's retry with its Idempotency-Key may arrive at
once (after a crash both wait for the restarted service, as in tests/fault). Each would find the
command's record unanswered and, for a resumable command, run it again beside the other: enterprise
or identity asked twice, notify handed the SMS twice (they answer alike under the command id, but
the work is done twice). In one process the later run waits for the earlier one to end, then reads
the record it left (services/common/commands.py). Instances of a service on one store (PostgreSQL)
do not see each other's turns: there the record's wait and the peers' records still hold.
"""
from contextlib import contextmanager

from eventlet.semaphore import Semaphore


class Busy(Exception):
    """The run before this one did not end within the wait."""


class Turns:
    def __init__(self):
        self._keys = {}  # key -> [its semaphore, runs holding or waiting for it]

    @contextmanager
    def of(self, key, wait):
        """Run the block when no other run of `key` is inside it; Busy after `wait` seconds."""
        entry = self._keys.setdefault(key, [Semaphore(1), 0])
        entry[1] += 1
        try:
            if not entry[0].acquire(timeout=wait):
                raise Busy(key)
            try:
                yield
            finally:
                entry[0].release()
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._keys[key]

    def __len__(self):
        return len(self._keys)

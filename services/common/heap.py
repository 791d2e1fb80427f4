"""Once a process has started, the objects it made so far are moved out of what Python's full
garbage collections scan (`gc.freeze()`), a while after its first container started.

A service process holds some hundreds of thousands of long-lived objects (its modules, schemas,
key caches, the broker's connections); every full (generation 2) collection walked all of them:
24 to 36 ms every 5 to 10 s in the busiest processes under bench/authz.py's 300 checks a second,
about ten requests held each time, the p99's tail (docs/PERFORMANCE.md). Frozen, they are no
longer walked; they are still freed when their last reference goes, only a cycle among them made
garbage after the freeze is never collected, which is why it happens once, after the start-up's
objects are made and a collection has cleared the garbage of the start itself.
"""
import gc
import logging

import eventlet
from nameko.extensions import DependencyProvider

from .secret_rules import StartRefused
from .settings import setting

log = logging.getLogger(__name__)

_frozen = False  # once a process: every container of it asks


def freeze_seconds():
    """EPORT_GC_FREEZE_SECONDS: a number; negative: never."""
    raw = setting("EPORT_GC_FREEZE_SECONDS")
    try:
        return float(raw)
    except ValueError:
        raise StartRefused(f"EPORT_GC_FREEZE_SECONDS={raw!r}: expected a number of seconds (negative: never)") from None


def freeze_once():
    """Collect the start's garbage, then freeze what is left; False if the process already did."""
    global _frozen
    if _frozen:
        return False
    _frozen = True
    gc.collect()
    gc.freeze()
    log.info("%d objects frozen out of full garbage collections", gc.get_freeze_count())
    return True


class FrozenHeap(DependencyProvider):
    """Of every service class (Operated) and the gateway: freezes the process once, a while after start."""

    _timer = None

    def start(self):
        seconds = freeze_seconds()
        if seconds >= 0 and not _frozen:  # a timer, not a managed thread: a stop before it is no "killing" warning
            self._timer = eventlet.spawn_after(seconds, freeze_once)

    def stop(self):
        if self._timer is not None:
            self._timer.cancel()

    kill = stop

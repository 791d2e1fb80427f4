"""Real OS threads and sockets, even in a process eventlet has monkey-patched (the test suite,
Nameko). pyscard blocks in C while pcscd waits for the card's answer; a card running as a green
thread could never answer, since the hub is stuck in that same C call."""
from __future__ import annotations

import importlib
import sys


def original(name: str):
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None:
        return patcher.original(name)
    return importlib.import_module(name)

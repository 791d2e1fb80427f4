"""Random AES-GCM nonces (96 bits), drawn from the operating system in bulk.

Every event stored, every personal field sealed and every audit payload takes a nonce of its own;
one `os.urandom` call each cost about 0.7 µs of a system call (more on a busy virtual machine), as
much as the AES-GCM encryption itself. Drawn 512 at a time, each nonce is the same random bytes from
the same source, used once: each batch hands out its slots through a counter of its own, whose
`next` the interpreter runs whole (no lock: under eventlet a green lock cost more than the draw), and
two threads that find a batch used up each draw a new one. A forked process starts with none drawn:
it never hands out its parent's.
"""
import itertools
import os

SIZE = 12
BATCH = 512

_drawn = (b"", itertools.count(BATCH))  # (random bytes, the counter of their slots)


def nonce():
    """12 random bytes, never handed out twice."""
    global _drawn
    while True:
        drawn, slots = _drawn
        slot = next(slots)
        if slot < BATCH:
            return drawn[slot * SIZE:(slot + 1) * SIZE]
        _drawn = (os.urandom(SIZE * BATCH), itertools.count())


def _forget_in_child():
    global _drawn
    _drawn = (b"", itertools.count(BATCH))


os.register_at_fork(after_in_child=_forget_in_child)

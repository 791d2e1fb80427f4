"""AES-GCM nonces drawn in bulk (services/common/nonces.py): never one handed out twice, in this
process or in a process forked from it (a nonce used twice with one key gives the key stream away)."""
import os

import pytest

from services.common.nonces import BATCH, SIZE, nonce

pytestmark = pytest.mark.unit


def test_nonces_are_twelve_bytes_and_never_repeat_across_draws():
    drawn = [nonce() for _ in range(3 * BATCH + 7)]
    assert {len(n) for n in drawn} == {SIZE}
    assert len(set(drawn)) == len(drawn)


def test_a_forked_process_never_hands_out_its_parents_next_nonces():
    nonce()  # the parent holds nonces drawn and not handed out yet
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next nonces, to the parent
        os.close(read)
        os.write(write, b"".join(nonce() for _ in range(4)))
        os._exit(0)
    os.close(write)
    child = b""
    while chunk := os.read(read, 1024):
        child += chunk
    os.close(read)
    os.waitpid(pid, 0)
    parent = b"".join(nonce() for _ in range(4))
    assert len(child) == len(parent) == 4 * SIZE
    assert {child[i:i + SIZE] for i in range(0, len(child), SIZE)}.isdisjoint(
        {parent[i:i + SIZE] for i in range(0, len(parent), SIZE)})


def test_threads_drawing_at_once_never_get_the_same_nonce():
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        drawn = [n for batch in pool.map(lambda _: [nonce() for _ in range(2 * BATCH + 3)], range(8)) for n in batch]
    assert len(set(drawn)) == len(drawn) == 8 * (2 * BATCH + 3)

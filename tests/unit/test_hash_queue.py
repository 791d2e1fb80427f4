"""The bounded queue in front of argon2id (services/identity/passwords.py): beyond the threads and
IDENTITY_HASH_QUEUE waiting, a hash is refused at once (503 with retry_after), never queued."""
import eventlet
import pytest

from contracts import errors as e
from contracts.errors import ServiceError
from services.identity.passwords import Passwords

pytestmark = pytest.mark.unit


def slow_offload(fn, *args):
    eventlet.sleep(0.2)  # as long as a hash, on the hub: the test needs no thread
    return fn(*args)


class Hasher:
    def hash(self, password):
        return f"hashed:{password}"

    def verify(self, password_hash, password):
        return password_hash == f"hashed:{password}"


def test_beyond_the_threads_and_the_queue_a_hash_is_refused_at_once():
    passwords = Passwords(hasher=Hasher(), offload=slow_offload, parallel=2, queue=3)
    pool = eventlet.GreenPool()
    running = [pool.spawn(passwords.hash, f"p{n}") for n in range(5)]  # 2 hashing, 3 waiting
    eventlet.sleep(0)
    started = eventlet.hubs.get_hub().clock()
    with pytest.raises(ServiceError) as refused:
        passwords.verify("hashed:x", "x")
    assert eventlet.hubs.get_hub().clock() - started < 0.05  # at once, not after the others
    assert refused.value.code == e.SERVICE_UNAVAILABLE and refused.value.details == {"retry_after": 1}
    assert [g.wait() for g in running] == [f"hashed:p{n}" for n in range(5)]
    assert passwords.verify("hashed:x", "x") is True  # the queue emptied: served again


def test_a_refused_hash_leaves_the_slots_as_they_were():
    passwords = Passwords(hasher=Hasher(), offload=slow_offload, parallel=1, queue=0)
    first = eventlet.spawn(passwords.hash, "a")
    eventlet.sleep(0)
    for _ in range(3):
        with pytest.raises(ServiceError):
            passwords.hash("b")
    assert first.wait() == "hashed:a"
    assert passwords.hash("c") == "hashed:c"


def test_hashes_run_in_threads_that_yield_the_cpu_to_everything_else():
    import os

    from services.identity.passwords import HASH_NICENESS

    def niceness():
        return os.getpriority(os.PRIO_PROCESS, 0)

    mine = niceness()
    passwords = Passwords(hasher=Hasher(), parallel=1, queue=0)
    seen = passwords.offload(niceness)
    assert seen >= HASH_NICENESS and seen > mine
    assert niceness() == mine  # the service's own thread keeps its priority

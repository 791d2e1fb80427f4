"""Turns of one client: at most GATEWAY_CLIENT_CONCURRENCY requests of one client (its address,
gateway/client_address.py) are read and worked on at once by this gateway; the client's others
wait their turn, costing nothing, before their headers are even parsed.

Why: a refusal costs the gateway about half a millisecond, but a client that keeps hundreds of
requests in flight gets each of them parsed and refused as fast as the gateway can, on its one
thread, in turn with everybody else's: in bench/abuse.py, 400 logins in flight from one address,
all refused 429, took a whole core and made another client's permission checks wait 1.5 s (p99).
With turns, at most that many of the flood's requests are ready at a time, and another client's
request waits behind those few only.

A direct client takes its turn once its request line has arrived (gateway/http.py, the protocol): a
kept-alive connection waiting for its next request holds none, so a browser's connections or an
office behind one NAT address, whose requests last milliseconds, do not wait. Behind a trusted proxy
the client is named by X-Forwarded-For, in the headers: its turn is taken once they are read, and
the proxy itself bounds its connections.

A client refused for being over its own budget (429) is paced for REFUSED_FOR seconds after its
last such refusal: one request at a time, at most one every REFUSED_PACE (0.05) seconds. Turns alone did
not bound what a flood costs: with two requests in flight, refused at once, a client on loopback
sent 1,700 a second and held 57% of the gateway's core (bench/abuse.py). A client that sends one
request at a time and reads Retry-After never waits; one refused by mistake is back to its turns
seconds later.
"""
import contextlib
import functools
import time

import eventlet.semaphore

from services.common.settings import setting

from .client_address import client_key, client_of_environ, ip_of, trusted, trusted_proxies

REFUSED_FOR = 10.0  # seconds
REFUSED_PACE = 0.05  # seconds between two requests of a refused client: 20 a second
_turns = {}  # client -> its Semaphore of turns, while it has requests here
_refused_turn = {}  # client -> its Semaphore of one turn, while it has requests here
_refused_until = {}  # client -> time.monotonic() until which it is paced
_last_paced = {}  # client -> when its last paced request began


@contextlib.contextmanager
def _one_of(table, client, size):
    turns = table.get(client)
    if turns is None:
        turns = table[client] = eventlet.semaphore.Semaphore(size)
    turns.acquire()
    try:
        yield
    finally:
        turns.release()
        if turns.balance >= size and table.get(client) is turns:  # nobody holds or awaits it: forget it
            del table[client]


@contextlib.contextmanager
def client_turn(client):
    """Around the work of one request of `client`: wait for one of its turns (paced when refused lately)."""
    with _one_of(_turns, client, int(setting("GATEWAY_CLIENT_CONCURRENCY"))):
        if _refused_until.get(client, 0) <= time.monotonic():
            yield
            return
        with _one_of(_refused_turn, client, 1):
            eventlet.sleep(max(0.0, _last_paced.get(client, 0) + REFUSED_PACE - time.monotonic()))
            _last_paced[client] = time.monotonic()
            yield


def refused(client):
    """`client` was just refused for being over its own budget: paced for REFUSED_FOR seconds."""
    now = time.monotonic()
    if len(_refused_until) > 10_000:  # a flood from many addresses: forget those whose time is up
        for stale in [c for c, until in _refused_until.items() if until <= now]:
            del _refused_until[stale]
            _last_paced.pop(stale, None)
    _refused_until[client] = now + REFUSED_FOR


def direct_client(peer):
    """The client a connection from `peer` is, unless the peer is a trusted proxy (None)."""
    return _direct_client(peer, trusted_proxies())


@functools.lru_cache(maxsize=4096)
def _direct_client(peer, networks):
    # asked twice per request (http.py); parsing the address each time was 2% of a check's CPU
    address = ip_of(peer or "")
    if address is None or trusted(address, networks):
        return None
    return client_key(address)


def proxied_turn(environ):
    """The turn of a request a trusted proxy forwarded (its client is in the headers), else nothing to take."""
    if direct_client(environ.get("REMOTE_ADDR")) is not None or ip_of(environ.get("REMOTE_ADDR") or "") is None:
        return contextlib.nullcontext()
    return client_turn(client_of_environ(environ))

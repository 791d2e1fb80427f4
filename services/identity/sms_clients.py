"""Who asked for the SMS codes of a mobile: each requesting client (the keyed digest of its
address, never the address) has a cooldown and a quota of its own there, so that requests by
others never use up the owner's (API.md, "General rules, added"). Used by SmsBox; no I/O.
A flood of one number from many addresses is bounded by the gateway's budgets, not here."""
KEEP_REQUESTS = 32  # request times kept per client: more than any quota we configure
KEEP_CLIENTS = 64  # clients kept per mobile


def requests_of(clients, client):
    """(time of the last request per purpose, times of recent requests) of `client`."""
    bucket = clients.get(client)
    return ({}, []) if bucket is None else (bucket["last"], bucket["requests"])


def with_request(clients, client, purpose, at):
    """`clients` with a request of `client` at `at` (a new dict: event state is never shared)."""
    last, requests = requests_of(clients, client)
    clients = {**clients, client: {"last": {**last, purpose: at}, "requests": (requests + [at])[-KEEP_REQUESTS:]}}
    if len(clients) > KEEP_CLIENTS:  # forget the one quiet the longest: that frees quota, never takes it
        del clients[min(clients, key=lambda c: clients[c]["requests"][-1])]
    return clients

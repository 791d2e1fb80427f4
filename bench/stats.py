"""What every benchmark needs beside its client: a free port for the platform it starts, percentiles."""
import socket


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def capacity_env():
    """The settings of a capacity benchmark: it acts from one address as fast as it is answered,
    which the budgets (gateway/budgets.py) are there to refuse; so they are set out of its way."""
    from tests.support import generous_budgets
    return {**generous_budgets(), "GATEWAY_HASH_ROUTES": "20"}  # and GATEWAY_CLIENT_CONCURRENCY

"""RPC entrypoints whose domain errors reach the caller as `contracts.errors.ServiceError`."""
import functools

from nameko.rpc import rpc as nameko_rpc

from contracts.errors import ServiceError


def rpc(fn):
    """Like nameko's @rpc; a ServiceError subclass raised inside crosses the wire as the base class
    (the caller cannot import the subclass) and is not logged as a crash."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ServiceError as exc:
            raise exc.plain() from None

    return nameko_rpc(expected_exceptions=ServiceError)(wrapper)

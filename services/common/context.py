"""What travels with a call from service to service: nameko's worker context data.

nameko sends a worker's context data along with every RPC request (and every nameko event) it
makes, as `nameko.<key>` message headers, and hands it to the worker that serves it as
`worker_ctx.data`; so a value the gateway puts there (the HTTP request's X-Request-ID, under
CORRELATION_ID) reaches every service the request touches, whatever the depth. `RequestContext`
makes the current worker's data readable where no worker_ctx is at hand (an Application saving
events): `value(key)`. Every service gets it through its `EventSourced` dependency; a service
without one declares `context = RequestContext()`.

Consumers of integration events (services/common/messaging.py) take the correlation id of the
event they handle as theirs, so the events they emit in reaction carry it too.
"""
import threading

from nameko.extensions import DependencyProvider

CORRELATION_ID = "correlation_id"  # the X-Request-ID that caused this work

_current = threading.local()  # green under eventlet's monkey patch: one per worker


def value(key):
    """The current worker's context value under `key`, None outside a worker or when unset."""
    data = getattr(_current, "data", None)
    return None if data is None else data.get(key)


def correlation_id():
    return value(CORRELATION_ID)


def enter(data):
    """Make `data` the current context (a worker's; or a test's, a script's)."""
    _current.data = data


def leave():
    _current.data = None


class RequestContext(DependencyProvider):
    """Makes the worker's context data current while it runs (`value`, `correlation_id`)."""

    def worker_setup(self, worker_ctx):
        enter(worker_ctx.data)

    def worker_teardown(self, worker_ctx):
        leave()

    def get_dependency(self, worker_ctx):
        return worker_ctx.data

"""What travels with a call from service to service, and what a worker keeps for itself.

nameko sends a worker's context data along with every RPC request (and every nameko event) it
makes, as `nameko.<key>` message headers, and hands it to the worker that serves it as
`worker_ctx.data`; so a value the gateway puts there reaches every service the request touches,
whatever the depth:
- CORRELATION_ID, the HTTP request's X-Request-ID: the stored events keep it (correlation.py);
- COMMAND_ID, the command id of a state-changing request: from its Idempotency-Key, else new per
  request; each owning service runs the command once under it (commands.py).
`RequestContext` makes the current worker's data readable where no worker_ctx is at hand (an
Application saving events): `value(key)`, `correlation_id()`, `command_id()`. Every service gets
it through its `EventSourced` dependency; a service without one declares `context = RequestContext()`.

Beside the data, a worker holds values of its own that are never sent on (`own(name)`): the
application serving it (APPLICATION, set by EventSourced) and the command it runs (COMMAND).

Consumers of integration events (services/common/messaging.py) take the correlation id of the
event they handle as theirs, so the events they emit in reaction carry it too.
"""
import threading

from nameko.extensions import DependencyProvider

CORRELATION_ID = "correlation_id"  # the X-Request-ID that caused this work
COMMAND_ID = "eport_command"  # the gateway's command id of the request (its header name: keep it)
# the broker user that published the request: its AMQP user_id, which RabbitMQ checks against the
# connection's user (rpc.py sets it from the message alone, so no header can claim it)
BROKER_USER = "eport_broker_user"
APPLICATION = "application"  # own: the event-sourced application serving this worker
COMMAND = "command"  # own: the run of the command this worker is running (commands.CommandRun)

_current = threading.local()  # green under eventlet's monkey patch: one per worker


def value(key):
    """The current worker's context value under `key`, None outside a worker or when unset."""
    data = getattr(_current, "data", None)
    return None if data is None else data.get(key)


def correlation_id():
    return value(CORRELATION_ID)


def command_id():
    return value(COMMAND_ID)


def own(name):
    """The current worker's own value `name` (never sent on), None when unset."""
    values = getattr(_current, "own", None)
    return None if values is None else values.get(name)


def hold(name, held):
    """Make `held` the current worker's own value `name` (None forgets it)."""
    if getattr(_current, "own", None) is None:
        _current.own = {}
    _current.own[name] = held


def enter(data, **own_values):
    """Make `data` the current context (a worker's; or a test's, a script's), with its own values."""
    _current.data = data
    _current.own = dict(own_values)


def leave():
    _current.data = _current.own = None


class RequestContext(DependencyProvider):
    """Makes the worker's context data current while it runs (`value`, `correlation_id`,
    `command_id`), with the values `own_values()` gives it."""

    def own_values(self):
        return {}

    def worker_setup(self, worker_ctx):
        enter(worker_ctx.data, **self.own_values())

    def worker_teardown(self, worker_ctx):
        leave()

    def get_dependency(self, worker_ctx):
        return worker_ctx.data

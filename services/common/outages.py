"""What an outage of the broker or of a service's event store looks like, and what a service does
while it lasts: its callers get 503 SERVICE_UNAVAILABLE, never a 500, and no process exits.

kombu re-raises a lost or refused connection as its OperationalError after its own retries;
py-amqp's and the socket's own errors can escape between them. A login the broker refuses (a
user's password changed under a running process, or the user removed) is one more of them:
py-amqp reports it as a channel error (AccessRefused, which kombu neither retries nor counts as a
connection error, and which answered the gateway's callers 500); `LoginRefused` makes it a
recoverable connection error, so that consumers reconnect, publishers retry and callers get 503.
Consumers reconnect by themselves (kombu's ConsumerMixin), publishers on their next publish. A store that
is restarting (PostgreSQL) fails a command before it saved anything, so the command may simply run again.
"""
import functools
import sys
import time

import amqp
import amqp.exceptions
import eventsourcing.persistence as es
import kombu.exceptions

from contracts import errors as e
from contracts.errors import DomainError


class LoginRefused(amqp.exceptions.RecoverableConnectionError):
    """The broker refused this process's login (ACCESS_REFUSED while opening the connection)."""


def _refused_login_is_an_outage(connect):
    @functools.wraps(connect)
    def connecting(self, *args, **kwargs):
        try:
            return connect(self, *args, **kwargs)
        except amqp.exceptions.AccessRefused as exc:
            if self._handshake_complete:  # refused later, on a channel: a permission, not a login
                raise
            raise LoginRefused(f"the broker refused this process's login: {exc}") from None

    connecting.refused_login_is_an_outage = True
    return connecting


if not getattr(amqp.Connection.connect, "refused_login_is_an_outage", False):
    amqp.Connection.connect = _refused_login_is_an_outage(amqp.Connection.connect)

# MessageNacked: a confirmed publish the broker refused, e.g. on a channel stuck on a dead quorum queue
# leader (services/common/publishing_channels.py): the message was not taken, so a retry may be
BROKER_ERRORS = (kombu.exceptions.OperationalError, amqp.exceptions.ConnectionError, ConnectionError, OSError,
                 amqp.exceptions.MessageNacked)
# the PostgreSQL drivers' own errors, (module, class names): only a process whose store is PostgreSQL
# loads SQLAlchemy (services/common/bootstrap.py, postgres.py); on SQLite importing it for these names
# alone cost every process 9 MiB (docs/PERFORMANCE.md, "Footprint")
DRIVER_ERRORS = (("sqlalchemy.exc", ("OperationalError", "InterfaceError")),
                 ("psycopg2", ("OperationalError", "InterfaceError")))


def store_errors():
    """The errors of an event store that is away: eventsourcing's, and those of each driver this
    process loaded (one it did not load raises nothing). Called in an `except` clause, so that a
    driver loaded after this module counts too."""
    found = [es.OperationalError, es.InterfaceError]
    for module, names in DRIVER_ERRORS:
        loaded = sys.modules.get(module)
        if loaded is not None:
            found += [getattr(loaded, name) for name in names]
    return tuple(found)


def outages():
    """BROKER_ERRORS and store_errors(): what `except outages():` treats as an outage."""
    return BROKER_ERRORS + store_errors()


class Unavailable(DomainError):
    """Raised by a service whose broker or store is away: its RPC consumer retries the request a
    while before answering it (services/common/rpc.py); callers get the plain ServiceError."""
    code = e.SERVICE_UNAVAILABLE


def unavailable(what="message broker"):
    return Unavailable(f"The {what} is unreachable; try again shortly.")


class Retrying:
    """The failures of a loop that must outlive them (a relay, a follower): `pause = failed()` in
    its `except`, `worked()` after a success. The first failure is logged with its traceback, then
    one line a minute while they last, and one when it works again: an outage of some minutes is a
    handful of lines, not a traceback per try. Pauses double from `first` to `longest` seconds."""

    REMIND_EVERY = 60.0  # seconds

    def __init__(self, log, what, first=0.5, longest=10.0, clock=time.monotonic):
        self.log, self.what, self.first, self.longest, self.clock = log, what, first, longest, clock
        self.failures, self.pause, self._said = 0, first, 0.0

    def failed(self):
        """Call inside the `except`; returns how long to pause before the next try."""
        self.failures += 1
        if self.failures == 1:
            self.log.error("%s failed; retrying until it works", self.what, exc_info=True)
            self._said = self.clock()
        elif self.clock() - self._said >= self.REMIND_EVERY:
            self.log.error("%s still failing after %d tries: %s", self.what, self.failures, sys.exc_info()[1])
            self._said = self.clock()
        pause, self.pause = self.pause, min(self.pause * 2, self.longest)
        return pause

    def worked(self):
        if self.failures:
            self.log.warning("%s works again after %d failed tries", self.what, self.failures)
        self.failures, self.pause = 0, self.first

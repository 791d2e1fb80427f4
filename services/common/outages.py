"""What an outage of the broker or of a service's event store looks like, and what a service does
while it lasts: its callers get 503 SERVICE_UNAVAILABLE, never a 500, and no process exits.

kombu re-raises a lost or refused connection as its OperationalError after its own retries;
py-amqp's and the socket's own errors can escape between them. Consumers reconnect by themselves
(kombu's ConsumerMixin), publishers on their next publish. A store that is restarting (PostgreSQL)
fails a command before it saved anything, so the command may simply run again.
"""
import amqp.exceptions
import eventsourcing.persistence as es
import kombu.exceptions
import psycopg2
import sqlalchemy.exc

from contracts import errors as e
from contracts.errors import ServiceError

BROKER_ERRORS = (kombu.exceptions.OperationalError, amqp.exceptions.ConnectionError, ConnectionError, OSError)
STORE_ERRORS = (es.OperationalError, es.InterfaceError, sqlalchemy.exc.OperationalError,
                sqlalchemy.exc.InterfaceError, psycopg2.OperationalError, psycopg2.InterfaceError)
OUTAGES = BROKER_ERRORS + STORE_ERRORS


class Unavailable(ServiceError):
    """Raised by a service whose broker or store is away: its RPC consumer retries the request a
    while before answering it (services/common/rpc.py); callers get the plain ServiceError."""

    def __init__(self, what):
        super().__init__(e.SERVICE_UNAVAILABLE, f"The {what} is unreachable; try again shortly.")


def unavailable(what="message broker"):
    return Unavailable(what)

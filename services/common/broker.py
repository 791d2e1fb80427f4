"""What a broker outage looks like to a publisher, and what a service answers while it lasts.

kombu re-raises a lost or refused connection as its OperationalError after its own retries;
py-amqp's and the socket's own errors can escape between them. None of them may end a process:
consumers reconnect by themselves (kombu's ConsumerMixin), publishers on their next publish.
"""
import amqp.exceptions
import kombu.exceptions

from contracts import errors as e
from contracts.errors import ServiceError

BROKER_ERRORS = (kombu.exceptions.OperationalError, amqp.exceptions.ConnectionError, ConnectionError, OSError)


def unavailable():
    return ServiceError(e.SERVICE_UNAVAILABLE, "The message broker is unreachable; try again shortly.")

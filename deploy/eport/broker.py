"""The broker as `eport` sees it: connections, queue depths, RPC to the services."""
import uuid
from contextlib import contextmanager
from urllib.parse import unquote, urlparse

import amqp.exceptions
import yaml
from kombu import Connection, Exchange, Producer

from services.common.broker_addresses import addresses, each_address
from services.common.outages import BROKER_ERRORS

from .errors import CommandError, unavailable, usage

RPC_TIMEOUT = 30  # seconds a service has to answer one call


def amqp_uri(auditor=False):
    """EPORT_AMQP_URI (the tool's own broker user) or else AMQP_URI; for what only an auditor may do
    (`eport demo` reading the trail as the operator who runs it cannot), EPORT_AUDITOR_AMQP_URI first."""
    from services.common.settings import setting
    return (auditor and setting("EPORT_AUDITOR_AMQP_URI")) or setting("EPORT_AMQP_URI") or setting("AMQP_URI")


def amqp_ssl():
    """AMQP_SSL: TLS options of an amqps:// broker, YAML or JSON as in deploy/config.yaml."""
    from services.common.settings import setting
    raw = setting("AMQP_SSL")
    return yaml.safe_load(raw) if raw else None


def safe_uri(uri):
    """`uri` without its credentials (each address of a cluster's)."""
    def one(address):
        parsed = urlparse(address)
        return parsed._replace(netloc=f"{parsed.hostname}:{parsed.port or 5672}").geturl()
    return each_address(uri, one)




@contextmanager
def connection(auditor=False):
    uri = amqp_uri(auditor)
    conn = Connection(uri, connect_timeout=5, ssl=amqp_ssl())
    try:
        conn.ensure_connection(max_retries=len(addresses(uri)))  # each node of a cluster once
    except (*BROKER_ERRORS, amqp.exceptions.AMQPError) as exc:
        raise unavailable(f"cannot reach the broker at {safe_uri(uri)}: {exc}") from None
    try:
        yield conn
    finally:
        conn.release()


def queue_depth(conn, name):
    """Messages ready in queue `name`, or None when there is no such queue (its own channel:
    a passive declare of a missing queue closes the channel)."""
    channel = conn.channel()
    try:
        _, count, _ = channel.queue_declare(queue=name, passive=True)
        return count
    except amqp.exceptions.NotFound:
        return None
    finally:
        try:
            channel.close()
        except Exception:  # closed by the broker already
            pass


def require_queue(conn, name):
    depth = queue_depth(conn, name)
    if depth is None:
        raise usage(f"no queue {name!r} on this broker")
    return depth


# Replays go through an exchange of the tool's own, on which each target queue is bound by its
# own name: it reaches that queue alone, like the default exchange, but the tool's broker user
# needs no write permission on the default exchange, which would reach every queue (RPC too).
REPLAY_EXCHANGE = Exchange("eport.replay", type="direct", durable=True, auto_delete=False)


def replay_producer(channel, queue, serializer=None):
    """A confirmed producer whose messages with routing key `queue` reach that queue alone."""
    exchange = REPLAY_EXCHANGE(channel)
    exchange.declare()
    channel.queue_bind(queue=queue, exchange=exchange.name, routing_key=queue)
    channel.confirm_select()  # py-amqp waits for each publish's ack, raises on a nack
    return Producer(channel, exchange=exchange, serializer=serializer)


@contextmanager
def rpc(timeout=RPC_TIMEOUT, auditor=False):
    """A nameko cluster proxy (the platform's: it binds its reply queue without declaring
    `nameko-rpc`, which the tool's broker user may not); an unknown or silent service, or a broker
    without the RPC exchange, becomes a one-line error."""
    from services.common.rpc import ClusterRpcProxy

    with connection(auditor):  # the broker first: its error says more than nameko's
        pass
    from services.common.context import CORRELATION_ID
    # one correlation id per command of the tool: what it changes (`eport clients add`) is traced in the
    # audit trail like what an HTTP request changes.
    # requests carry the tool's broker user as AMQP user_id, which RabbitMQ checks: what the audit
    # trail records as who acted (services/audit/operations.py)
    cluster = ClusterRpcProxy({"AMQP_URI": amqp_uri(auditor), "AMQP_SSL": amqp_ssl()}, timeout=timeout,
                              user_id=broker_user(auditor), context_data={CORRELATION_ID: str(uuid.uuid4())})
    try:
        proxy = cluster.start()
    except amqp.exceptions.NotFound:
        cluster.stop()
        raise unavailable("the broker has no exchange nameko-rpc: run `python -m deploy.broker setup` "
                          "(or start the platform once)") from None
    try:
        proxy.eport_timeout = timeout
        yield proxy
    finally:
        cluster.stop()


def broker_user(auditor=False):
    """The user of the tool's broker URI (RabbitMQ's default is guest)."""
    return unquote(urlparse(addresses(amqp_uri(auditor))[0]).username or "guest")


def record_operation(action, target, details=None, proxy=None):
    """Records in the audit trail what the tool is about to change, before it does: no record, no
    change (the audit service not answering stops the command)."""
    if proxy is None:
        with rpc() as proxy:
            return record_operation(action, target, details, proxy)
    return call(proxy, "audit", "record_operation", action, target, details)


def call(proxy, service, method, *args, **kwargs):
    return answer(proxy, service, method, lambda: getattr(getattr(proxy, service), method)(*args, **kwargs))


def call_async(proxy, service, method, *args, **kwargs):
    """Sends the request now; `answer(proxy, service, method, reply.result)` waits for it."""
    return getattr(getattr(proxy, service), method).call_async(*args, **kwargs)


def answer(proxy, service, method, result):
    import eventlet
    from nameko.exceptions import RemoteError, RpcTimeout, UnknownService

    from contracts.errors import ServiceError
    try:
        return result()
    except UnknownService:
        raise unavailable(f"the {service} service has never run on this broker") from None
    except (eventlet.Timeout, RpcTimeout):
        raise unavailable(f"the {service} service did not answer within {proxy.eport_timeout} s") from None
    except ServiceError as exc:
        code = {"VALIDATION_ERROR": 2, "NOT_FOUND": 2}.get(exc.code, 1)
        details = f" {exc.details}" if exc.details else ""
        raise CommandError(f"{service}: {exc.code}: {exc.message}{details}", code) from None
    except RemoteError as exc:
        if exc.exc_type == "MethodNotFound":
            raise CommandError(f"the running {service} service does not offer {method}: "
                               "is it an older version?", 3) from None
        raise CommandError(f"{service} failed: {exc.exc_type}: {exc.value}") from None

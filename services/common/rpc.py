"""RPC entrypoints whose domain errors reach the caller as `contracts.errors.ServiceError`, and
whose replies go out without waiting for the broker's confirm; and a proxy whose requests do not
wait for one either (the gateway's).

Every queue here (a service's `rpc-<service>`, a proxy's reply queue, a standalone proxy's) binds
to nameko's RPC exchange without declaring it: declaring needs configure permission, which also
deletes the exchange, and a role that deleted `nameko-rpc` would break every call of the platform.
`python -m deploy.broker setup` declares it as the broker's admin (services/common/exchange_binding.py).

Why no confirm on a reply: the caller waits for it under a deadline anyway, so a reply the broker
lost ends the same way with or without one (a 503 at the gateway). Waiting for the confirm cost a
broker round trip on every call: without it a bare call takes about 30% less server CPU
(bench/authz.py, "server CPU per call": 0.82 -> 0.58 ms).
"""
import functools
import inspect
import json
import logging
import sys
from copy import copy

import eventlet
import kombu.serialization
from amqp.exceptions import MessageNacked, NotFound
from nameko.amqp.publish import Publisher
from nameko.constants import (AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, DEFAULT_SERIALIZER,
                              LOGIN_METHOD_CONFIG_KEY, SERIALIZER_CONFIG_KEY)
from nameko.exceptions import IncorrectSignature, UnknownService, UnserializableValueError, serialize
from nameko.rpc import MethodProxy, Responder, RpcConsumer, ServiceProxy, get_rpc_exchange
from nameko.rpc import ReplyListener as NamekoReplyListener
from nameko.rpc import Rpc as NamekoRpc
from nameko.rpc import RpcProxy as NamekoRpcProxy
from nameko.standalone.rpc import ClusterProxy
from nameko.standalone.rpc import ClusterRpcProxy as NamekoClusterRpcProxy
from nameko.standalone.rpc import PollingQueueConsumer, SingleThreadedReplyListener

from contracts import errors as e
from contracts.errors import ServiceError
from contracts.subscriptions import queue_arguments

from . import commands
from .context import BROKER_USER
from .exchange_binding import BindsWithoutDeclaring, bound_without_declaring
from .consuming import QueueConsumer
from .outages import BROKER_ERRORS, Unavailable, outages, store_errors, unavailable
from .publishing_channels import renew_after_a_lost_answer
from .settings import consumer_queue_type

log = logging.getLogger(__name__)

RPC_DEADLINE = 10  # seconds; a service that does not answer becomes a 503, not a hung request
RPC_EXCHANGE = get_rpc_exchange({}).name


def request_queue(queue):
    """A service's `rpc-<service>` queue (nameko's: durable) of the type EPORT_QUEUE_TYPE says, like
    every consumer queue: on a RabbitMQ cluster a quorum queue, replicated. A classic durable queue
    lives on one node, and while that node is down no other node lets anyone declare or consume it
    (404 NOT_FOUND, "home node ... is down"): every call of the service would fail until it is back."""
    arguments = queue_arguments(consumer_queue_type())
    if not arguments:
        return queue
    replicated = copy(queue)
    replicated.queue_arguments = dict(queue.queue_arguments or {}, **arguments)
    return replicated


def reply_queue(queue):
    """A proxy's reply queue (nameko's: durable, expiring when unused). On a cluster (quorum) a
    transient one: when its node goes down the cluster deletes it, and the proxy, reconnected to
    another node, declares it there again under its name (replies sent since land in it); a durable
    one could not be declared anywhere until its node came back. A quorum queue per proxy would
    cost a Raft group per process and a replicated write per reply."""
    if consumer_queue_type() == "classic":
        return queue
    transient = copy(queue)
    transient.durable = False
    return transient


class UnconfirmedPublisher(Publisher):
    """Does not wait for the broker's confirm, and so asks for no mandatory delivery either: only
    a confirm could report an unroutable message (nameko would warn on every call)."""
    use_confirms = False

    def publish(self, payload, **kwargs):
        kwargs["mandatory"] = False
        return super().publish(payload, **kwargs)


JSON = "application/json"


class Encoded:
    """A result that is JSON already (a page of `ops_events` read from the published log, of
    envelopes kept as the text they were published as): a JSON reply carries its UTF-8 bytes as they
    are. `content_type`: what the reply says it holds, a type of its own (`reply_type`) for a reply
    its caller reads otherwise than as plain JSON (a signed window, services/common/operations.py)."""

    def __init__(self, data, content_type=JSON):
        self.data = data if isinstance(data, bytes) else data.encode("utf-8")
        self.content_type = content_type

    @property
    def text(self):
        return self.data.decode("utf-8")


_REPLY_TYPES = {}  # kombu serializer name -> content type: what a standalone proxy accepts besides JSON


def reply_type(name, content_type, decoder):
    """Replies of `content_type` (an `Encoded` result of that type) are accepted by a standalone proxy
    (ClusterRpcProxy) and read with `decoder` (the body's bytes -> {"result", "error"}) instead of JSON."""
    kombu.serialization.register(name, None, decoder, content_type, "binary")
    _REPLY_TYPES[name] = content_type


class UnconfirmedResponder(Responder):
    """nameko's Responder, serialising the reply once: nameko's dumps it a first time only to see
    that it can, then publishes it, which dumps it again (a page of `ops_events` is a third of a
    megabyte of JSON); and an `Encoded` result not at all."""
    publisher_cls = UnconfirmedPublisher

    def send_response(self, result, exc_info):
        error = None if exc_info is None else serialize(exc_info[1])
        serializer = kombu.serialization.registry.type_to_name[self.message.properties["content_type"]]
        try:
            if isinstance(result, Encoded) and serializer != "json":
                result = json.loads(result.data)
            if isinstance(result, Encoded):
                # a type of its own is read as bytes ("binary": the client library leaves them undecoded)
                content_type, encoding = result.content_type, "utf-8" if result.content_type == JSON else "binary"
                body = b'{"result":%s,"error":null}' % result.data
            else:
                content_type, encoding, body = kombu.serialization.dumps({"result": result, "error": error},
                                                                         serializer)
        except Exception:  # nameko's disaster avoidance: an unserialisable result must not end the container
            exc_info = sys.exc_info()
            error, result = serialize(UnserializableValueError(result)), None
            content_type, encoding, body = kombu.serialization.dumps({"result": None, "error": error}, serializer)
        publisher = self.publisher_cls(self.amqp_uri, ssl=self.ssl, login_method=self.login_method)
        publisher.publish(body, content_type=content_type, content_encoding=encoding, exchange=self.exchange,
                          routing_key=self.message.properties["reply_to"],
                          correlation_id=self.message.properties.get("correlation_id"))
        return result, exc_info


class RpcQueueConsumer(BindsWithoutDeclaring, QueueConsumer):
    """The consume loop of a container's RPC requests and replies: their queues bind to
    `nameko-rpc` without declaring it, and wait for it (one log line) when it does not exist yet."""


class UnconfirmedReplies(RpcConsumer):
    """nameko's RpcConsumer, replying through UnconfirmedResponder (nameko builds its Responder
    inline in this method, so the method is nameko's own with that change), and retrying a request
    that met an outage of this service's store or broker (`Unavailable`) a while before answering
    503: a caller not waiting for the answer (an SMS to send) would otherwise lose its request."""

    OUTAGE_RETRIES = 8  # tries of one request, a second apart, before it is answered 503
    queue_consumer = RpcQueueConsumer()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._outage_tries = {}  # correlation id -> tries that met an outage

    def setup(self):
        if self.queue is None:
            super().setup()  # registered with the consume loop, which reads self.queue when it starts
            self.queue = request_queue(self.queue)

    def handle_result(self, message, result, exc_info):
        if exc_info is not None and isinstance(exc_info[1], Unavailable):
            request = message.properties.get("correlation_id")
            tries = self._outage_tries[request] = self._outage_tries.get(request, 0) + 1
            if tries < self.OUTAGE_RETRIES:
                eventlet.sleep(1.0)
                self.queue_consumer.requeue_message(message)
                return result, exc_info
            exc_info = (ServiceError, exc_info[1].plain(), exc_info[2])
        self._outage_tries.pop(message.properties.get("correlation_id"), None)
        config = self.container.config
        responder = UnconfirmedResponder(
            config[AMQP_URI_CONFIG_KEY], get_rpc_exchange(config),
            config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER), message,
            ssl=config.get(AMQP_SSL_CONFIG_KEY), login_method=config.get(LOGIN_METHOD_CONFIG_KEY))
        try:
            result, exc_info = responder.send_response(result, exc_info)
        except BROKER_ERRORS as exc:  # not acked: the broker redelivers the request, the command
            # record answers it (services/common/commands.py); raising here would end the service
            log.warning("reply to %s not sent, the broker is away (%s); the request will be redelivered",
                        message.properties.get("reply_to"), exc)
            return result, exc_info
        self.queue_consumer.ack_message(message)
        return result, exc_info


class ReplyListener(NamekoReplyListener):
    queue_consumer = RpcQueueConsumer()

    def setup(self):
        super().setup()  # registered with the consume loop, which reads self.queue when it starts
        self.queue = reply_queue(self.queue)


class UnackedReplyListener(ReplyListener):
    """The gateway's replies (UnconfirmedRpcProxy), consumed without acknowledgements
    (services/common/consuming.py): acking each reply was a socket write per call, a sixth of the
    gateway's busy time in a permission check (bench/authz.py --profile). What an ack would save:
    a reply the broker had sent when the connection broke, delivered again after the reconnect;
    without one it is lost, and its caller answers 503 at the deadline, as it does for a request
    the broker lost (the gateway's requests are unconfirmed already)."""
    auto_ack = True

    def handle_message(self, body, message):
        event = self._reply_events.pop(message.properties.get("correlation_id"), None)
        if event is not None:
            event.send(body)


class RpcProxy(NamekoRpcProxy):
    """nameko's RpcProxy (use this one): its replies come through the service's own consume loop
    (services/common/consuming.py), which a broker reset does not end."""
    rpc_reply_listener = ReplyListener()


class _UnconfirmedMethodProxy(MethodProxy):
    publisher_cls = UnconfirmedPublisher


class _UnconfirmedServiceProxy(ServiceProxy):
    def __getattr__(self, name):
        return _UnconfirmedMethodProxy(self.worker_ctx, self.service_name, name, self.reply_listener,
                                       **self.options)


class UnconfirmedRpcProxy(RpcProxy):
    """An RpcProxy whose requests go out without waiting for the broker's confirm. The price: a
    request to a service that never started on this broker is not refused at once
    (UnknownService) but waits for its deadline; a service that stopped keeps its durable queue,
    where requests wait for it either way."""
    rpc_reply_listener = UnackedReplyListener()

    def get_dependency(self, worker_ctx):
        return _UnconfirmedServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener, **self.options)


class _PollingConsumer(PollingQueueConsumer):
    def _setup_consumer(self):
        self.accept = [*self.accept, *(name for name in _REPLY_TYPES if name not in self.accept)]
        super()._setup_consumer()

    def register_provider(self, provider):
        provider.queue = bound_without_declaring(reply_queue(provider.queue))
        super().register_provider(provider)


class StandaloneReplyListener(SingleThreadedReplyListener):
    def __init__(self, timeout=None):
        super().__init__(timeout=timeout)
        self.queue_consumer = _PollingConsumer(timeout=timeout)


class ClusterRpcProxy(NamekoClusterRpcProxy):
    """nameko's standalone cluster proxy (use this one: the `eport` tool, a rebuild's reads), whose
    reply queue binds to `nameko-rpc` without declaring it; a broker where it does not exist yet
    (never set up) refuses the binding at `start()`: amqp's NotFound."""

    def __init__(self, config, context_data=None, timeout=None, **options):
        """`options`: publish options of every request, e.g. `user_id` (the `eport` tool's broker user)."""
        super().__init__(config, context_data=context_data, timeout=timeout,
                         reply_listener_cls=StandaloneReplyListener)
        self._proxy = _ClusterProxy(self._worker_ctx, self._reply_listener, options)


class _ClusterProxy(ClusterProxy):
    """nameko's, passing publish options to every method proxy (nameko's drops them)."""

    def __init__(self, worker_ctx, reply_listener, options):
        super().__init__(worker_ctx, reply_listener)
        self._options = options

    def __getattr__(self, name):
        if name not in self._proxies:
            self._proxies[name] = ServiceProxy(self._worker_ctx, name, self._reply_listener, **self._options)
        return self._proxies[name]


class SignatureChecked:
    """nameko checks every call's arguments against the method with inspect.getcallargs, which
    builds the method's signature anew each time (profiled: 0.1 ms of an authz check's 0.6 ms of
    RPC); the same check, on the signature built once per entrypoint. (The gateway's HTTP
    entrypoint too: gateway/http.py.)"""

    _signature = None

    def check_signature(self, args, kwargs):
        if self._signature is None:
            # the method itself, as nameko's getcallargs sees it: not what functools.wraps names
            method = getattr(self.container.service_cls, self.method_name)
            self._signature = inspect.signature(method, follow_wrapped=False)
        try:
            self._signature.bind(None, *args, **kwargs)  # None: the unbound method's `self`
        except TypeError as exc:
            raise IncorrectSignature(str(exc)) from None


class Rpc(SignatureChecked, NamekoRpc):
    # One consumer per container for every entrypoint of this class: a service must not mix these
    # with nameko's own @rpc, or two consumers would share its queue.
    rpc_consumer = UnconfirmedReplies()

    def unpack_message_headers(self, message):
        """nameko's, and the request's AMQP user_id as context.BROKER_USER (None without one),
        over any header of that name: RabbitMQ refuses a user_id that is not the publisher's."""
        data = super().unpack_message_headers(message)
        data[BROKER_USER] = message.properties.get("user_id")
        return data


def rpc(fn):
    """Like nameko's @rpc; a ServiceError subclass raised inside crosses the wire as the base class
    (the caller cannot import the subclass) and is not logged as a crash. A request of the gateway
    carrying a command id runs once (services/common/commands.py)."""

    @functools.wraps(fn)
    def wrapper(service, *args, **kwargs):
        try:
            arrived = commands.incoming()
            if arrived is None:
                return fn(service, *args, **kwargs)
            app, command_id = arrived
            return commands.execute(app, command_id, fn.__name__, args, kwargs,
                                    lambda: fn(service, *args, **kwargs))
        except ServiceError as exc:
            raise exc.plain() from None
        except outages() as exc:  # a call to another service could not be sent, or the store is away
            what = "event store" if isinstance(exc, store_errors()) else "message broker"
            log.warning("%s: the %s is away (%s)", fn.__name__, what, exc)
            if nacked(exc):  # a hand-off not waiting for its answer (call_async) refused: new channels
                renew_after_a_lost_answer()
            raise unavailable(what) from None

    return Rpc.decorator(expected_exceptions=ServiceError)(wrapper)


def nacked(exc):
    """A confirmed publish the broker refused (basic.nack): py-amqp's MessageNacked, which reaches
    the caller as kombu's OperationalError raised from it (kombu counts it a recoverable channel error)."""
    return isinstance(exc, MessageNacked) or isinstance(exc.__cause__, MessageNacked)


def call_with_deadline(method, *args, deadline=RPC_DEADLINE, **kwargs):
    """`method(*args, **kwargs)` (an RPC proxy's method, or a function making such calls), or 503
    SERVICE_UNAVAILABLE when no answer came within `deadline` seconds or the service never started."""
    service = getattr(method, "service_name", None)
    name = f"The {service} service" if service else "A back-end service"
    try:
        with eventlet.Timeout(deadline):
            return method(*args, **kwargs)
    except eventlet.Timeout:  # its request may have gone down a channel stuck on a dead node: new ones
        renew_after_a_lost_answer()
        raise ServiceError(e.SERVICE_UNAVAILABLE, f"{name} did not answer in time.") from None
    except UnknownService:
        raise ServiceError(e.SERVICE_UNAVAILABLE, f"{name} is not running.") from None
    except BROKER_ERRORS as exc:  # the request could not be sent: a broker outage costs a 503, not a 500
        if nacked(exc):  # a confirmed request refused: perhaps a channel stuck on a dead node
            renew_after_a_lost_answer()
        raise unavailable() from None
    except NotFound:  # no nameko-rpc to publish to: a broker not set up yet (exchange_binding.py), no service reachable
        log.warning("%s: the broker has no exchange %s yet (`python -m deploy.broker setup` declares it)",
                    getattr(method, "method_name", "a call"), RPC_EXCHANGE)
        raise ServiceError(e.SERVICE_UNAVAILABLE, f"{name} cannot be reached yet.") from None


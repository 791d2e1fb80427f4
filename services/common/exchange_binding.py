"""Consumers bind their queues to exchanges they never declare: another service's `<source>.events`,
and nameko's RPC exchange `nameko-rpc`.

Declaring needs configure permission, which is also what deleting needs: a consumer allowed to
declare `identity.events` could delete it, and then every confirmed publish of identity's relay
would go nowhere, lost for every subscriber; any one role allowed to declare `nameko-rpc` could
delete it, and every call of the platform would fail. So no role may configure `nameko-rpc`, and
only the owner its `<source>.events` (deploy/broker_policy.py): `python -m deploy.broker setup`
declares them before any service starts, and the owner's relay declares its own again before its
first publish, with its subscribers' queues bound to it. RPC request and reply queues (rpc.py) and
event queues alike bind through `BindsWithoutDeclaring`; nameko's standalone proxies (the `eport`
tool, a rebuild's) through `bound_without_declaring`.

An exchange may still be missing when a consumer starts: on a broker set up without
`deploy.broker` (a development broker, the in-process tests) before its owner ever published. The
consumer then consumes its queue without that binding, says so once, and binds it as soon as the
exchange exists (checked every `RECHECK_SECONDS` by the consume loop itself). Nothing is lost
meanwhile: no one can publish to an exchange that does not exist, and the owner's relay binds its
subscribers' queues (contracts/subscriptions.py) when it declares the exchange.
"""
import logging
import time
from copy import copy
from functools import partial

from amqp.exceptions import NotFound
from kombu import binding

log = logging.getLogger(__name__)

RECHECK_SECONDS = 2.0
_reported = set()  # (queue, exchange) already logged as waiting: once per process, not per reconnect


def exchange_exists(channel, name):
    """A passive declare, which needs no permission, on a channel of its own: a 404 closes the channel."""
    probe = channel.connection.channel()
    try:
        probe.exchange_declare(name, "topic", passive=True)
        return True
    except NotFound:
        return False
    finally:
        if probe.is_open:
            probe.close()


def exchange_lookup(channel):
    """exists(name), asking the broker once per exchange name."""
    known = {}

    def exists(name):
        if name not in known:
            known[name] = exchange_exists(channel, name)
        return known[name]
    return exists


def queue_bindings(queue):
    """(exchange, routing key, arguments) of every binding of a kombu Queue, its main one included."""
    found = [(b.exchange, b.routing_key, b.arguments) for b in queue.bindings]
    if queue.exchange is not None and queue.exchange.name:
        found.insert(0, (queue.exchange, queue.routing_key, queue.binding_arguments))
    return found


def undeclared(exchange):
    exchange = copy(exchange)
    exchange.no_declare = True
    return exchange


def _with_bindings(queue, kept):
    """A copy of `queue` with only the bindings `kept`, (exchange, routing key, arguments), none of
    whose exchanges it declares."""
    bound = copy(queue)
    bound.exchange, bound.routing_key = None, ""
    bound.bindings = {binding(undeclared(exchange), routing_key=routing_key, arguments=arguments)
                      for exchange, routing_key, arguments in kept}
    return bound


def bound_without_declaring(queue):
    """A copy of a kombu Queue that declares itself and its bindings, but not their exchanges (a
    missing one is the broker's 404 at the binding)."""
    return _with_bindings(queue, queue_bindings(queue))


class BindsWithoutDeclaring:
    """Mixin of a nameko QueueConsumer (before it in the bases) whose queues bind to exchanges its
    broker user may not configure: kombu declares every exchange a queue binds to, unless told not to."""

    _awaited = ()  # bindings whose exchange was missing: (queue, exchange, routing key, arguments)
    _next_check = 0.0

    def get_consumers(self, consumer_cls, channel):
        # nameko's QueueConsumer.get_consumers, with each queue bound only to exchanges that exist
        self._binding_channel = channel
        self._awaited = []
        self._next_check = time.monotonic() + RECHECK_SECONDS
        for provider in self._providers:
            consumer = consumer_cls(queues=[self._bound_to_existing(provider.queue, channel)],
                                    callbacks=[partial(self.handle_message, provider)], accept=self.accept,
                                    no_ack=bool(getattr(provider, "auto_ack", False)))  # consuming.py
            consumer.qos(prefetch_count=self.prefetch_count)
            self._consumers[provider] = consumer
        return self._consumers.values()

    def _bound_to_existing(self, queue, channel):
        exists, kept = exchange_lookup(channel), []
        for exchange, routing_key, arguments in queue_bindings(queue):
            if exists(exchange.name):
                kept.append((exchange, routing_key, arguments))
                continue
            self._awaited.append((queue.name, exchange.name, routing_key, arguments))
            if (queue.name, exchange.name) not in _reported:
                _reported.add((queue.name, exchange.name))
                log.warning("%s waits for exchange %s: not declared yet (by `python -m deploy.broker setup`, or a "
                            "<source>.events by its owner's relay); the queue is bound to it once it exists",
                            queue.name, exchange.name)
        return _with_bindings(queue, kept)

    def on_iteration(self):
        super().on_iteration()
        if self._awaited and not self.should_stop and time.monotonic() >= self._next_check:
            self._next_check = time.monotonic() + RECHECK_SECONDS
            self._bind_awaited()

    def _bind_awaited(self):
        # in the consume loop's own thread, on its channel: an error here is its error, and it reconnects
        channel = self._binding_channel
        exists, waiting, bound = exchange_lookup(channel), [], False
        for queue_name, exchange_name, routing_key, arguments in self._awaited:
            if not exists(exchange_name):
                waiting.append((queue_name, exchange_name, routing_key, arguments))
                continue
            channel.queue_bind(queue=queue_name, exchange=exchange_name, routing_key=routing_key,
                               arguments=arguments)
            log.info("%s bound to exchange %s (%s) now that it exists", queue_name, exchange_name, routing_key)
            bound = True
        self._awaited = waiting
        if bound:
            self.on_late_binding()

    def on_late_binding(self):
        """Called once a queue was bound to an exchange that had been missing."""

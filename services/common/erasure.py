"""What every service does when a person is erased (identity's UserErased; PIPL Art. 47;
services/identity/erasures.py starts it). Two entrypoints on each service class, both through
`erasure = ErasureFollower("<service>")`:

- On every instance (`@erasure_broadcast()`: a queue of the instance's own, deleted with its
  connection, like the gateway's revocations; a competing queue would tell one instance only):
  `forget(envelope)` drops what this process holds of the person: their keys in the key cache, the
  aggregates the application caches (opened with their keys), and the published log of this
  instance (a cache of envelopes made before the erasure: mapped again, from events whose personal
  fields are shredded, when next asked).
- Once per service (`@on_event(<service>, "identity")`): `erase(envelope, identity, purge)` destroys
  the person's keys in the service's key store, runs the service's own `purge(user_id)` (what it
  derived outside its events: the inbox, the SMS outbox, audit payloads), drops the dead letters of
  its queues naming the person, and confirms to identity (`identity.confirm_erasure`). Every step
  is idempotent and the event is acknowledged only once identity has the confirmation, so a service
  killed midway is given the event again and finishes; identity records each confirmation once.
"""
import logging
from contextlib import suppress
from functools import partial
from urllib.parse import unquote, urlsplit

import amqp
from eventsourcing.application import Cache, LRUCache

from kombu import Connection, Queue
from nameko.events import BROADCAST
from nameko.extensions import DependencyProvider
from nameko.rpc import MethodProxy

from contracts.identity import USER_ERASED
from contracts.subscriptions import SUBSCRIPTIONS

from . import context
from .broker_addresses import addresses
from .consuming import QueueConsumer
from .deadletters import dead_letter_queue_name
from .bootstrap import person_keys
from .broadcasts import SignedBroadcast
from .dependency import EventSourced
from .deployment import BACKENDS, deployed_services
from .exchange_binding import BindsWithoutDeclaring
from .rpc import call_with_deadline

log = logging.getLogger(__name__)


def erasure_services():
    """The services that must confirm an erasure: every service of the deployment but the gateway."""
    return sorted(set(BACKENDS) & deployed_services())


def erased_user(envelope):
    """(user_id, erasure_id) of a UserErased envelope of identity, else None."""
    if envelope.get("source") != USER_ERASED.source or envelope.get("event_type") != USER_ERASED.name:
        return None
    payload = envelope.get("payload") or {}
    return payload.get("user_id"), payload.get("erasure_id")


def destroy_keys(service, user_id):
    """The person's keys in this service's key store destroyed for good (services/common/person_keys.py):
    every field sealed with them, in the store, its snapshots, its backups, opens to the marker now."""
    person_keys(service).destroy(user_id)


def forget_keys(service, user_id):
    person_keys(service).forget(user_id)


def broker_user(config):
    """The broker user this process connects as (its AMQP_URI's; RabbitMQ's default is guest)."""
    return unquote(urlsplit(addresses(config["AMQP_URI"])[0]).username or "guest")


def confirmer_proven(config, service):
    """Whether the request being served (identity's confirm_erasure) comes from `service`'s own broker
    user: its AMQP user_id, which RabbitMQ checks, is `<namespace>-<service>` when identity is
    `<namespace>-identity`. One user shared by every process (a development broker's guest) tells no
    caller apart: then any is taken."""
    own = broker_user(config)
    if not own.endswith("-identity"):
        return True
    return context.value(context.BROKER_USER) == own[:-len("identity")] + service


def confirm_to(identity, erasure_id, service, config):
    """identity.confirm_erasure(erasure_id, service) sent with this process's broker user as its AMQP
    user_id, so that identity knows the confirmation is the service's own (confirmer_proven)."""
    method = MethodProxy(identity.worker_ctx, identity.service_name, "confirm_erasure", identity.reply_listener,
                         user_id=broker_user(config))
    return call_with_deadline(method, erasure_id, service)


def names(message_body, user_id):
    """Whether a message's body names the person (their user id anywhere in it)."""
    text = message_body if isinstance(message_body, str) else bytes(message_body or b"").decode("utf-8", "replace")
    return user_id in text


def purge_dead_letters(amqp_uri, consumer, user_id, ssl=None):
    """Drop, from the dead-letter queues of `consumer`'s subscriptions, the messages naming the person;
    the others go back. The number dropped."""
    dropped = 0
    with Connection(amqp_uri, ssl=ssl) as conn:
        for sub in (s for s in SUBSCRIPTIONS if s.consumer == consumer):
            dropped += _purge_queue(conn, dead_letter_queue_name(sub.queue_name), user_id)
    return dropped


def _depth(conn, name):
    """Messages in queue `name`, None when there is none (a passive declare of a missing queue
    closes its channel: one of its own)."""
    channel = conn.channel()
    try:
        return channel.queue_declare(queue=name, passive=True)[1]
    except amqp.exceptions.NotFound:
        return None
    finally:
        with suppress(Exception):  # closed by the broker already
            channel.close()


def _purge_queue(conn, name, user_id):
    count = _depth(conn, name)
    if not count:
        return 0
    dropped = 0
    with conn.channel() as channel:  # what is not acknowledged goes back when the channel closes
        parked = Queue(name, channel=channel, no_declare=True)
        for _ in range(count):
            message = parked.get(no_ack=False)
            if message is None:
                break
            if names(message.body, user_id):
                message.ack()
                dropped += 1
    return dropped


def _drop_cache(repository):
    """A new, empty aggregate cache in place of the repository's (eventsourcing's LRUCache.clear resets
    its recency list but keeps its entries: it would keep serving them)."""
    cache = repository.cache
    if isinstance(cache, LRUCache):
        repository.cache = LRUCache(maxsize=cache.maxsize)
    elif cache is not None:
        repository.cache = Cache()


class ErasureFollower(DependencyProvider):
    """A service's part of the erasure saga (see the module's docstring). `forget_every_key`: each
    instance empties its whole key cache on the broadcast, for a service whose erasure destroys keys
    that the user id does not name (card: the keys of the person's cards)."""

    def __init__(self, service, *, forget_every_key=False):
        self.service = service
        self.forget_every_key = forget_every_key

    def get_dependency(self, worker_ctx):
        return _Follower(self)

    def event_sourced(self):
        return [d for d in self.container.dependencies if isinstance(d, EventSourced)]


class _Follower:
    def __init__(self, provider):
        self.provider = provider
        self.service = provider.service

    def forget(self, envelope):
        """This instance forgets what it holds of the person (every instance does: a broadcast)."""
        erased = erased_user(envelope)
        if erased is None:
            return False
        forget_keys(self.service, None if self.provider.forget_every_key else erased[0])
        for dependency in self.provider.event_sourced():
            if dependency.app is not None:
                _drop_cache(dependency.app.repository)  # aggregates opened with keys that are gone
            if dependency.published is not None:
                dependency.published.forget()
        return True

    def erase(self, envelope, identity=None, purge=None, confirm=None):
        """The service's erasure of the person, then its confirmation; False for another event.
        `confirm(erasure_id, service)` records it (identity's own), else identity.confirm_erasure."""
        erased = erased_user(envelope)
        if erased is None:
            return False
        user_id, erasure_id = erased
        if purge is not None:  # first: identity's needs the person's mobile, which their key opens
            purge(user_id)
        destroy_keys(self.service, user_id)
        self.forget(envelope)
        config = self.provider.container.config
        dropped = purge_dead_letters(config["AMQP_URI"], self.service, user_id, ssl=config.get("AMQP_SSL"))
        if dropped:
            log.info("erasure %s: %d dead letter(s) of %s dropped", erasure_id, dropped, self.service)
        if confirm is not None:
            confirm(erasure_id, self.service)
        else:
            confirm_to(identity, erasure_id, self.service, config)
        return True

    def confirmed_by(self, service):
        """Whether the current confirm_erasure request is `service`'s own (confirmer_proven)."""
        return confirmer_proven(self.provider.container.config, service)


class _BroadcastFeed(BindsWithoutDeclaring, QueueConsumer):
    """The connection of a service's broadcast queues (binding to identity.events without declaring it)."""


class ErasureBroadcast(SignedBroadcast):
    """identity's UserErased on a queue of this instance's own (services/common/broadcasts.py): a forged
    one would make instances drop their caches."""
    queue_consumer = _BroadcastFeed()

    def __init__(self, **kwargs):
        super().__init__(USER_ERASED.source, USER_ERASED.name, handler_type=BROADCAST, reliable_delivery=False,
                         **kwargs)


erasure_broadcast = partial(ErasureBroadcast.decorator)


class ForgetsErased:
    """Mix-in of a service class whose `erasure` is its ErasureFollower: every instance of the service
    forgets the person's keys and cached aggregates on identity's UserErased (a broadcast)."""

    @erasure_broadcast()
    def on_user_erased(self, envelope):
        self.erasure.forget(envelope)

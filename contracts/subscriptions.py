"""Who listens to what: the durable queues of every consumer inside the platform.

Both sides use this table: the consumer consumes from the queue, and the publishing relay declares
the same queue before its first publish, so an event published while a consumer has never run yet
waits in its queue instead of being dropped by RabbitMQ (a topic exchange discards unroutable
messages). Subscribers in other systems declare their own queues (see README and asyncapi.yaml).
"""
from dataclasses import dataclass

from kombu import Exchange, Queue, binding

ALL = "#"


@dataclass(frozen=True)
class Subscription:
    consumer: str
    source: str
    event_types: tuple  # routing keys; ("#",) for every event of the source

    @property
    def queue_name(self):
        return f"{self.consumer}.{self.source}-events"


def exchange(source):
    # Same declaration as nameko's get_event_exchange, so @event_handler consumers can share it.
    return Exchange(f"{source}.events", type="topic", durable=True, delivery_mode=2, auto_delete=False)


QUEUE_TYPES = ("classic", "quorum")


def queue_arguments(queue_type="classic"):
    """The declaration arguments of a consumer queue of this type: quorum queues (x-queue-type)
    are replicated over a RabbitMQ cluster; classic ones carry no argument, as before."""
    if queue_type not in QUEUE_TYPES:
        raise ValueError(f"queue type {queue_type!r}: expected one of {', '.join(QUEUE_TYPES)}")
    return {"x-queue-type": "quorum"} if queue_type == "quorum" else None


def queue(sub: Subscription, queue_type="classic"):
    """Every declarer of a queue must give the same type (the broker refuses a redeclaration that
    differs): the platform's own declarers pass services.common.settings.consumer_queue_type()."""
    ex = exchange(sub.source)
    return Queue(sub.queue_name, durable=True, auto_delete=False, queue_arguments=queue_arguments(queue_type),
                 bindings=[binding(ex, routing_key=rk) for rk in sub.event_types])


SUBSCRIPTIONS: list[Subscription] = [
    Subscription("audit", "identity", (ALL,)),
    Subscription("audit", "enterprise", (ALL,)),
    Subscription("audit", "card", (ALL,)),
    Subscription("audit", "authz", (ALL,)),
    Subscription("audit", "sso", (ALL,)),
    Subscription("notify", "enterprise", ("AssociationRequested", "AssociationApproved",
                                          "AssociationRejected", "AdminTransferred", "AdminSuperseded",
                                          "RoleCertified", "RoleCertificationLost")),
    # a member is told of each business system granted or taken away (消息提醒)
    Subscription("notify", "authz", ("PermissionGranted", "PermissionRevoked")),
    Subscription("authz", "enterprise", ("EnterpriseRegistered", "AssociationApproved",
                                         "AdminTransferred", "MemberRemoved", "RoleCertified",
                                         "AdminSuperseded", "RoleCertificationLost")),
    Subscription("card", "enterprise", ("MemberRemoved",)),
    # 角色认证 of bindings stored before it existed, when the card history is replayed; its end when
    # the legal-person card it rests on is unbound, revoked or expired
    Subscription("enterprise", "card", ("CardBound", "CardUnbound")),
    # 实名认证: a bound card's holder is the account's registrant; a claim supersedes an unproved account
    Subscription("identity", "card", ("CardBound",)),
    Subscription("enterprise", "identity", ("UserSuperseded", "UserErased")),
    Subscription("notify", "identity", ("UserSuperseded", "UserErased")),
    # erasure of a person (services/common/erasure.py): each service erases its copies, then confirms
    Subscription("identity", "identity", ("UserErased",)),
    Subscription("card", "identity", ("UserErased",)),
    Subscription("authz", "identity", ("UserErased",)),
    Subscription("sso", "identity", ("UserErased", "SessionRevoked", "PasswordSet", "UserSuperseded")),
    # single sign-on's back-channel logout: what ends a person's sessions and tokens at business systems (with
    # identity's SessionRevoked, PasswordSet and UserSuperseded above), and the delivery of the logout tokens it
    # owes (its own events: the notification log, then this consumer)
    Subscription("sso", "enterprise", ("MemberRemoved",)),
    Subscription("sso", "authz", ("PermissionRevoked",)),
    Subscription("sso", "sso", ("BackchannelLogoutDue",)),
    # a logout at the provider ends the identity session it rested on
    Subscription("identity", "sso", ("ProviderSessionEnded",)),
]


def subscription(consumer, source):
    for sub in SUBSCRIPTIONS:
        if sub.consumer == consumer and sub.source == source:
            return sub
    raise LookupError(f"no subscription of {consumer} to {source} in contracts/subscriptions.py")


def subscriptions_of_source(source):
    return [s for s in SUBSCRIPTIONS if s.source == source]

"""Who may do what on the broker: the one table of every cross-service RPC call, and the RabbitMQ
permissions derived from it. `python -m deploy.broker` applies them; the tests read the same.

Each service and the gateway connect as a broker user of their own. Its vhost permissions
(configure, write, read regexes) name only the queues and exchanges it declares, publishes to or
consumes from; its topic permissions say which routing keys it may publish:
- on `nameko-rpc`, `<service>.<method>` for exactly the methods of CALLS (so the gateway cannot
  reach identity.start_card_session or audit.events), plus replies (a caller's reply queue is
  bound by a random UUID, which is also the routing key of the reply);
- on `<service>.events`, only its owner publishes (the others have no write permission on it).

Configure permission is also what exchange.delete needs. No role has it on `nameko-rpc`: any one
that deleted it would break every call of the platform. Only the owner of `<source>.events` has it
there: a consumer that deleted `identity.events` would make the relay's confirmed publishes
unroutable, lost for every subscriber. `python -m deploy.broker setup` declares both kinds as the
broker's admin (`exchange_definitions`), before any service starts; an owner's relay declares its
`<source>.events` again, idempotently. Everyone else binds without declaring them
(services/common/exchange_binding.py, services/common/rpc.py): write and read on `nameko-rpc` (requests
and replies are published there, queue.bind needs read), read only on the consumed
`<source>.events`, whose topic read permission is limited to the routing keys subscribed to. A role
keeps configure on its own queues: its `rpc-<service>`, its reply queues, its consumer queues with
their dead-letter queues.

An owner still has configure on its subscribers' queues: its relay declares them before its first
publish, so that events wait for a consumer that has not started yet (services/common/relay.py).
"""
import re

from nameko.rpc import get_rpc_exchange

from contracts.subscriptions import SUBSCRIPTIONS, exchange
from services.common.deadletters import dead_letter_queue_name
from services.common.deployment import BACKENDS as SERVICES

RPC_EXCHANGE = get_rpc_exchange({}).name  # nameko's default: "nameko-rpc"
GATEWAY = "gateway"
OPERATOR = "operator"  # the `eport` tool (deploy/eport/): replays, rebuilds, dead letters
AUDITOR = "auditor"  # `eport audit`: reads the whole audit trail, and nothing else
ROLES = (*SERVICES, GATEWAY, OPERATOR, AUDITOR)
TOOLS = (OPERATOR, AUDITOR)  # standalone RPC proxies of the `eport` tool

# caller -> callee -> the RPC methods it calls. Nothing else reaches the callee from that caller.
CALLS = {
    GATEWAY: {
        "identity": ("ping", "request_sms_code", "register", "set_password", "reset_password",
                     "login_password", "login_sms", "revoke_session", "revoked_sessions",
                     "sessions_ended_by_reset", "get_user", "get_users", "token_keys", "request_erasure",
                     "spend_export_code", "personal_data"),
        "enterprise": ("ping", "lookup_registry", "associate", "approve", "reject", "transfer_admin",
                       "remove_member", "get_enterprise", "update_details", "members", "association_requests",
                       "associations_of_user", "personal_data"),
        "card": ("ping", "create_challenge", "bind", "claim_admin", "claim_identity", "unbind", "login",
                 "cards_of_user", "cards_of_enterprise", "personal_data"),
        "authz": ("ping", "list_systems", "check_as", "get_permissions", "set_permissions", "systems_of_members",
                  "personal_data"),
        "notify": ("ping", "list_messages", "mark_read", "personal_data"),
        "audit": ("ping", "enterprise_events", "personal_data"),
        "sso": ("ping", "discovery", "authorize", "token", "userinfo", "begin_session", "personal_data",
                "token_preflight", "choices", "logout"),
    },
    # admin_has_members: an erasure waits for an administrator's handover (services/identity/erasures.py)
    # forget_mobile: an erased person's SMS outbox lines (services/identity/service.py)
    "identity": {"notify": ("send_sms", "forget_mobile"), "enterprise": ("admin_has_members",)},
    # get_enterprise: the name a permission message gives; ops_events: `eport rebuild inbox`
    "notify": {"enterprise": ("ops_events", "get_enterprise"), "authz": ("ops_events",), "identity": ("ops_events",)},
    "authz": {"enterprise": ("ops_events",)},  # `eport rebuild authz`
    "enterprise": {"identity": ("get_user",)},
    # single sign-on: who the person is to a business system; identity signs its tokens (services/sso/peers.py)
    # authenticate: the identity session a provider session begins from, and when its login was made
    "sso": {"identity": ("get_user", "sign_client_token", "token_keys", "authenticate"),
            "enterprise": ("associations_of_user",),
            "authz": ("get_permissions", "list_systems")},
    # only the card service, once a card proved itself, certifies a role or claims one (角色认证)
    # only the card service, once a card answered an identity challenge, claims an ID number (实名认证)
    "card": {"identity": ("holder_matches", "start_card_session", "claim_identity"),
             "enterprise": ("membership", "certify_card", "check_admin_claim", "claim_admin")},
    "audit": {"enterprise": ("membership", "ops_events"),  # ops_events: `eport rebuild audit-log`
              **{s: ("ops_events",) for s in ("identity", "card", "authz", "sso")}},
    # operators repair (status, history, rebuilds; replays and dead letters below) but do not read the
    # audit trail; auditors read it and change nothing
    # (and record each change they make in the audit trail first: audit.record_operation)
    OPERATOR: {s: ("ops_status", "ops_events", "ops_rebuild", *(("record_operation",) if s == "audit" else ()),
                   *(("add_client", "list_clients", "remove_client") if s == "sso" else ()),
                   *(("ops_erasures", "ops_legal_hold") if s == "identity" else ()))
               for s in SERVICES},
    AUDITOR: {"audit": ("ping", "events")},
}
# every service confirms to identity that it erased a person's copies (services/common/erasure.py)
for _service in SERVICES:
    if _service != "identity":
        CALLS.setdefault(_service, {}).setdefault("identity", ())
        CALLS[_service]["identity"] += ("confirm_erasure",)
# The exchange `eport replay` and `eport dead-letters replay` publish through (deploy/eport/broker.py)
REPLAY_EXCHANGE = "eport.replay"
# Queues the operator may bind to it: any but the platform's RPC queues and exchanges (the name space
# is shared); subscriber queues of other systems have names the platform does not know.
REPLAY_TARGETS = r"(?!rpc[-.]|nameko-rpc$|amq\.|.*\.events$).+"

# nameko @event_handler entrypoints (queues named by nameko, not in contracts/subscriptions.py):
# consumer -> (source, event type) pairs
EVENT_HANDLERS = {
    GATEWAY: (("identity", "SessionRevoked"), ("identity", "PasswordSet"), ("identity", "UserSuperseded"),
              ("identity", "UserErased")),
    # every instance of every service forgets an erased person's keys (services/common/erasure.py)
    **{s: (("identity", "UserErased"),) for s in SERVICES},
}

UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
NOTHING = "^$"  # RabbitMQ matches unanchored: every pattern here is anchored


def _one_of(patterns):
    return f"^({'|'.join(sorted(set(patterns)))})$" if patterns else NOTHING


def events_exchange(service):
    return f"{service}.events"


def reply_queue_owner(role):
    # nameko names a reply queue rpc.reply-<container's service name>-<uuid>; standalone proxies
    # (the operators' tools) call themselves standalone_rpc_proxy
    return "standalone_rpc_proxy" if role in TOOLS else role


def _queues(role):
    queues = []
    if role in SERVICES:
        queues.append(re.escape(f"rpc-{role}"))
    if CALLS.get(role):
        queues.append(re.escape(f"rpc.reply-{reply_queue_owner(role)}-") + UUID)
    for sub in SUBSCRIPTIONS:
        # its own subscriptions, and (as publisher) the queues of its subscribers, which it declares
        # so that events wait for a consumer that has not started yet; the consumer puts a failed
        # message back with its count through the exchange of the queue's name (deadletters.py)
        if role in (sub.consumer, sub.source):
            queues.append(re.escape(sub.queue_name))
        # a consumer parks poison in its dead-letter queue, through the exchange of the same name;
        # the operator lists, replays and drops them
        if role in (sub.consumer, OPERATOR):
            queues.append(re.escape(dead_letter_queue_name(sub.queue_name)))
    for source, event_type in EVENT_HANDLERS.get(role, ()):
        # evt-<source>-<type>--<service>.<method>[-<broadcast id>] (nameko.events.EventHandler)
        queues.append(re.escape(f"evt-{source}-{event_type}--{role}.") + "[a-z_]+(-[0-9a-f]{32})?")
    return queues


def consumed_sources(role):
    """source service -> the routing keys `role` binds on its exchange."""
    sources = {}
    for sub in SUBSCRIPTIONS:
        if sub.consumer == role:
            sources.setdefault(sub.source, set()).update(sub.event_types)
    for source, event_type in EVENT_HANDLERS.get(role, ()):
        sources.setdefault(source, set()).add(event_type)
    return sources


def consumed_event_sources():
    """The sources whose `<source>.events` some consumer of the platform binds to: every source that
    publishes (audit consumes them all). The setup declares their exchanges before any service starts."""
    return sorted({source for role in ROLES for source in consumed_sources(role)})


def admin_exchanges():
    """The exchanges the broker's admin declares before any service starts, which no role may
    declare (kombu Exchanges): nameko's RPC exchange, as nameko declares it, and the consumed
    `<source>.events`, as their owners' relays declare them."""
    return [get_rpc_exchange({}), *map(exchange, consumed_event_sources())]


def exchange_definitions(vhost):
    """Those exchanges as RabbitMQ definitions."""
    return [{"name": ex.name, "vhost": vhost, "type": ex.type, "durable": ex.durable, "auto_delete": ex.auto_delete,
             "internal": False, "arguments": {}} for ex in admin_exchanges()]


def vhost_permissions(role):
    """(configure, write, read) regexes of a role's broker user."""
    queues = _queues(role)
    own = [re.escape(events_exchange(role))] if role in SERVICES else []
    rpc = [re.escape(RPC_EXCHANGE)]  # publish requests and replies, bind queues; configure would delete it
    consumed = [re.escape(events_exchange(source)) for source in consumed_sources(role)]
    if role == OPERATOR:  # declares its replay exchange and binds the target queue (write on it)
        replay = [re.escape(REPLAY_EXCHANGE)]
        return (_one_of(queues + replay), _one_of(queues + rpc + replay + [REPLAY_TARGETS]),
                _one_of(queues + rpc + replay))
    # consumed exchanges: read only (queue.bind); configure would let the consumer delete them
    return _one_of(queues + own), _one_of(queues + own + rpc), _one_of(queues + own + rpc + consumed)


def rpc_routing_keys(role):
    """The routing keys `role` may publish on nameko-rpc: its calls, then any reply."""
    calls = [re.escape(f"{callee}.{method}") for callee, methods in CALLS.get(role, {}).items()
             for method in methods]
    return _one_of(calls + [UUID])


def topic_permissions(role):
    """[(exchange, write regex, read regex)] of a role's broker user."""
    rpc_binds = [UUID] + ([re.escape(f"{role}.*")] if role in SERVICES else [])
    perms = [(RPC_EXCHANGE, rpc_routing_keys(role), _one_of(rpc_binds))]
    if role in SERVICES:
        perms.append((events_exchange(role), ".*", ".*"))
    for source, keys in consumed_sources(role).items():
        if source != role:
            perms.append((events_exchange(source), NOTHING, _one_of(re.escape(k) for k in keys)))
    return perms


def user_name(namespace, role):
    return f"{namespace}-{role}"


def definitions(vhost, namespace, password_hashes):
    """RabbitMQ definitions (the JSON of `rabbitmqctl import_definitions` and of `load_definitions`)
    of every role's user, and the exchanges consumers bind to; `password_hashes`: role ->
    rabbit_password_hashing_sha256 hash."""
    users, permissions, topics = [], [], []
    for role in ROLES:
        name = user_name(namespace, role)
        users.append({"name": name, "password_hash": password_hashes[role],
                      "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []})
        configure, write, read = vhost_permissions(role)
        permissions.append({"user": name, "vhost": vhost, "configure": configure, "write": write, "read": read})
        topics += [{"user": name, "vhost": vhost, "exchange": exchange, "write": w, "read": r}
                   for exchange, w, r in topic_permissions(role)]
    return {"users": users, "vhosts": [{"name": vhost}], "permissions": permissions,
            "topic_permissions": topics, "exchanges": exchange_definitions(vhost)}


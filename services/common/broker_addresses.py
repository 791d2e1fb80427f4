"""AMQP_URI may name several brokers, the nodes of one RabbitMQ cluster, `;`-separated:

    AMQP_URI="amqp://u:p@rabbit-1:5672/eport;amqp://u:p@rabbit-2:5672/eport;amqp://u:p@rabbit-3:5672/eport"

kombu takes that string as it is (its Connection's alternates): every connection of the platform (a
service's consume loop, its publishers, the relay, the parker of dead letters, the gateway's RPC
proxies) connects to the first address that answers and, when its node goes away, fails over to the
next (round robin). What reads the URI itself goes through here: each address is a whole URI of its
own, credentials and vhost included (the same on every node: users and vhosts are cluster-wide).
"""


def addresses(amqp_uri):
    """The URIs of `amqp_uri`, in order: one for a single broker."""
    return [uri.strip() for uri in amqp_uri.split(";") if uri.strip()]


def each_address(amqp_uri, change):
    """`amqp_uri` with `change(uri)` applied to each of its addresses."""
    return ";".join(change(uri) for uri in addresses(amqp_uri))

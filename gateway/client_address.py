"""Who a request comes from, for budgets (gateway/budgets.py): its peer's address, or, when that
peer is a proxy named in EPORT_TRUSTED_PROXIES, the right-most hop of `X-Forwarded-For` that no
trusted proxy added.

A client writes what it likes into X-Forwarded-For, so only what trusted proxies appended counts:
walking from the right, each trusted hop vouches for the one to its left, and the first untrusted
hop is the client. Without trusted proxies (the default) the header is ignored, so a client cannot
give itself a fresh budget with a forged header. Each address of 127.0.0.0/8 is a client of its
own; an IPv6 client is its /64, which one subscriber usually holds whole.
"""
import functools
import ipaddress

from services.common.settings import setting

FORWARDED_HEADER = "X-Forwarded-For"
IPV6_CLIENT_PREFIX = 64


@functools.cache
def _networks(text):
    networks = []
    for part in (text or "").split(","):
        if part.strip():
            networks.append(ipaddress.ip_network(part.strip(), strict=False))  # a typo stops the start
    return tuple(networks)


def trusted_proxies():
    """The networks of EPORT_TRUSTED_PROXIES (addresses or CIDR blocks, comma-separated; none by default)."""
    return _networks(setting("EPORT_TRUSTED_PROXIES"))


def ip_of(text):
    try:
        return ipaddress.ip_address(text.strip().removeprefix("[").split("]")[0])
    except ValueError:
        return None


def trusted(address, networks):
    return address is not None and any(address in network for network in networks)


def client_key(address):
    """The budget's name for an address: itself, or the /64 of an IPv6 one."""
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.ip_network(f"{address}/{IPV6_CLIENT_PREFIX}", strict=False))


def client_address(peer, forwarded=None, networks=None):
    """The client's address: `peer` (the socket's), unless it is a trusted proxy, then the right-most
    untrusted hop of `forwarded` (an X-Forwarded-For value). A hop that is not an address ends the
    walk at the proxy that reported it."""
    networks = trusted_proxies() if networks is None else networks
    current = ip_of(peer or "")
    if current is None:
        return peer or "unknown"
    if not trusted(current, networks) or not forwarded:
        return client_key(current)
    for hop in reversed(forwarded.split(",")):
        address = ip_of(hop)
        if address is None:
            break
        current = address
        if not trusted(address, networks):
            break
    return client_key(current)


def client_of_environ(environ):
    """The client of a WSGI request (cached in its environ: several budgets ask)."""
    if "eport.client" not in environ:  # the server joins several X-Forwarded-For headers into one list
        environ["eport.client"] = client_address(environ.get("REMOTE_ADDR"), environ.get("HTTP_X_FORWARDED_FOR"))
    return environ["eport.client"]


def client_of(request):
    """The client of a werkzeug request."""
    return client_of_environ(request.environ)

"""Single sign-on's own input checks, in the vocabulary of contracts/validators.py."""
from urllib.parse import urlsplit

from contracts.sso import REDIRECT_URI_MAX
from services.common.settings import development


def uri(value):
    """An absolute http(s) URI without fragment or user info; http only for loopback hosts (or in
    development): a code sent over plain HTTP to another host could be read on the way."""
    if not isinstance(value, str) or not 0 < len(value) <= REDIRECT_URI_MAX:
        raise ValueError(f"Give an absolute URI of at most {REDIRECT_URI_MAX} characters.")
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ValueError("Not a URI.") from None
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.fragment or "@" in parts.netloc:
        raise ValueError("Give an absolute http(s) URI with a host, no fragment and no user info.")
    loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme == "http" and not (loopback or development()):
        raise ValueError("Use https (http only for localhost).")
    return value


def optional_uri(value):
    return None if value in (None, "") else uri(value)


def redirect_uri_list(values):
    if not isinstance(values, (list, tuple)) or len(values) > 20:
        raise ValueError("Give a list of at most 20 URIs.")
    return list(dict.fromkeys(uri(v) for v in values))

"""The request body, read by the gateway's web server before a worker is taken (gateway/http.py).

A body is read whole into memory only when it is at most MAX_BODY bytes, and only within the
socket timeout in all: a client that sends slowly holds its own connection for that long, never
a worker. The JSON nesting of what was read is checked before any parser sees it, since Python's
own recurses once per level (`[` 100,000 times was a RecursionError, a 500).
"""
import io
import re

import eventlet

from contracts import errors as e
from services.common.settings import setting

from .errors import error_response

MAX_BODY = 64 * 1024
MAX_DEPTH = 32
CHUNK = 16 * 1024
BODY_ERRORS = (e.PAYLOAD_TOO_LARGE, e.REQUEST_TIMEOUT)  # what any route with a body may answer

_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # a JSON string's brackets do not nest
_OPEN, _CLOSE = frozenset(b"[{"), frozenset(b"]}")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def socket_timeout():
    """Seconds one socket operation, and the reading of a whole body, may take."""
    return float(setting("GATEWAY_SOCKET_TIMEOUT"))


def nesting_depth(raw, limit=MAX_DEPTH):
    """How deep the arrays and objects of `raw` (JSON, or its beginning) nest; counting stops
    past `limit`. Brackets inside strings do not count; an unterminated string's do."""
    depth = deepest = 0
    for byte in _STRINGS.sub(b'""', raw).translate(None, _NOT_BRACKETS):
        depth += 1 if byte in _OPEN else -1
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                break
    return deepest


class BodyRefused(Exception):
    def __init__(self, response):
        super().__init__(response.status)
        self.response = response


def _refuse(code, message, details=None, status=None):
    return BodyRefused(error_response(code, message, details, status=status))


def _declared_length(environ):
    """The Content-Length, or None for a chunked body."""
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    if length < 0:
        raise _refuse(e.VALIDATION_ERROR, "Bad Content-Length.", {"body": ["Content-Length is not a number."]})
    return length


def _too_large():
    return _refuse(e.PAYLOAD_TOO_LARGE, f"The request body is larger than {MAX_BODY} bytes.",
                   {"body": [f"At most {MAX_BODY} bytes."]})


def _read_prefix(source, length, deadline):
    """At most MAX_BODY + 1 bytes of the body, within `deadline` seconds in all."""
    wanted = MAX_BODY + 1 if length is None else min(length, MAX_BODY + 1)
    chunks, total = [], 0
    try:
        with eventlet.Timeout(deadline):
            while total < wanted:
                chunk = source.read(min(CHUNK, wanted - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
    except (eventlet.Timeout, TimeoutError):  # in all, or on one read
        raise _refuse(e.REQUEST_TIMEOUT, f"The request body did not arrive within {deadline:g} s.") from None
    except (OSError, ValueError):  # the connection broke, or a malformed chunk
        raise _refuse(e.VALIDATION_ERROR, "The request body could not be read.",
                      {"body": ["Broken or malformed body."]}) from None
    return b"".join(chunks)


def buffer_body(environ):
    """Reads the body into `environ["wsgi.input"]`; raises BodyRefused with the answer when it is
    too large (413), too deeply nested (400) or too slow (408). The caller then closes the
    connection: what was not read of the body must not be taken for the next request."""
    length = _declared_length(environ)
    if length == 0:
        return
    if length is not None and length > MAX_BODY and environ.get("HTTP_EXPECT", "").lower() == "100-continue":
        raise _too_large()  # the client waits for our word before it sends: nothing to read
    raw = _read_prefix(environ["wsgi.input"], length, socket_timeout())
    # Depth first: a body nested too deep is refused as such even when it is also too large.
    if nesting_depth(raw) > MAX_DEPTH:
        raise _refuse(e.VALIDATION_ERROR, "The JSON body is nested too deeply.",
                      {"body": [f"JSON nested deeper than {MAX_DEPTH} levels."]})
    if len(raw) > MAX_BODY:
        raise _too_large()
    environ["wsgi.input"] = io.BytesIO(raw)
    environ["CONTENT_LENGTH"] = str(len(raw))
    environ.pop("HTTP_TRANSFER_ENCODING", None)

"""A page of a service's history as one window, signed by the service for the request it answers
(services/common/operations.py `ops_events` with a `challenge`), and a rebuild's reading of it.

The upstream signs the window's exact bytes, bound to the request (source, after, limit, type, until
and the rebuild's challenge; contracts/signatures.py `sign_window`); the rebuild checks that one
signature over the bytes it then parses (`window_page`): one verification per thousand envelopes.
Asked with `form="inline-sha256"` (a rebuild of this release asks so), the window is carried as it
is, the reply's own JSON (a reply of WINDOW_TYPE), and the rebuild's reply listener hands
`window_page` its bytes unparsed (`_inline`): encoded once and parsed once; the signature covers the
window's SHA-256 (a third of the upstream's signing, contracts/signatures.py). `form="inline"` (a
release before): carried the same, signed over the bytes themselves. Asked without `form` (a release
before that), the window is a JSON string inside a JSON reply, encoded and parsed twice, as it was.
Between releases: an older rebuild asks the way it did and a newer upstream answers it so; a newer
rebuild asking an older upstream is refused once per source and form (an `ops_events` that takes no
`form`, or not this one) and asks again in the form before (`upstream_fetcher`): all work.
"""
import json
import logging
import secrets

from nameko.exceptions import RemoteError

from contracts.errors import VALIDATION_ERROR, ServiceError, ValidationFailed
from contracts.signatures import OriginNotProven, window_request

from . import fastjson
from .event_keys import kids_of, window_signed, window_verified
from .published import text_of
from .rpc import ClusterRpcProxy, Encoded, reply_type

log = logging.getLogger(__name__)

MAX_CHALLENGE = 64  # characters
_STRING = json.JSONEncoder(ensure_ascii=False)  # a window's text as a JSON string (the form before INLINE)
INLINE = "inline"  # ops_events(form=INLINE): the signed window carried as it is, in a reply of WINDOW_TYPE
INLINE_DIGEST = "inline-sha256"  # the same, its signature over the window's SHA-256
FORMS = (INLINE_DIGEST, INLINE, None)  # what a rebuild asks, newest first: each refusal, the next
WINDOW_TYPE = "application/x-eport-window+json"


def signed_window(source, answer, after, limit, event_type, until, challenge, form=None):
    """`ops_events`' answer (a dict, or rpc.Encoded) as one window signed by `source`. The signature
    covers the request (what was asked, with the caller's `challenge`) and the exact bytes of the
    window, its "next" and "end" included, so an answer altered, cut, moved to another request or
    replayed from an earlier one is refused. With `form` INLINE_DIGEST (the signature over the
    window's SHA-256) or INLINE: {"signature", "window": the window itself}, a reply of WINDOW_TYPE,
    whose reader finds the window's bytes in it (`_inline`); else (a caller of a release before them)
    {"window": its JSON text as a string, "signature"}."""
    checked_challenge(challenge)
    checked_form(form)
    data = answer.data if isinstance(answer, Encoded) else text_of(answer).encode("utf-8")
    request = window_request(source, after, limit, event_type, until, challenge)
    signature = text_of(window_signed(source, request, data, digest=form == INLINE_DIGEST)).encode("ascii")
    if form in (INLINE, INLINE_DIGEST):
        return Encoded(b'{"signature":%s,"window":%s}' % (signature, data), WINDOW_TYPE)
    return Encoded(b'{"window":%s,"signature":%s}' % (_STRING.encode(data.decode("utf-8")).encode("utf-8"), signature))


class InlineWindow:
    """A signed window as a reply of WINDOW_TYPE carried it: its signature and the window's exact
    bytes, not parsed yet (None, None: a reply that is no such window)."""

    __slots__ = ("signature", "window")

    def __init__(self, signature, window):
        self.signature, self.window = signature, window


# A reply of WINDOW_TYPE, as rpc.UnconfirmedResponder writes it: {"result":{"signature":…,"window":…},"error":null}
_HEAD, _MIDDLE, _TAIL = b'{"result":{"signature":', b',"window":', b'},"error":null}'


def _inline(body):
    """The reply's {"result": InlineWindow, "error": None}: the window is every byte between the
    signature and the reply's fixed end, the bytes that `window_page` checks and then parses."""
    body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    middle = body.find(_MIDDLE, len(_HEAD))
    if not body.startswith(_HEAD) or not body.endswith(_TAIL) or middle < 0:
        return {"result": InlineWindow(None, None), "error": None}
    try:
        signature = json.loads(body[len(_HEAD):middle])
    except ValueError:
        signature = None
    return {"result": InlineWindow(signature, body[middle + len(_MIDDLE):len(body) - len(_TAIL)]), "error": None}


reply_type("eport-window", WINDOW_TYPE, _inline)


def checked_form(form):
    if form not in FORMS:
        raise ValidationFailed(details={"form": [f"{INLINE_DIGEST!r}, {INLINE!r}, or none."]})
    return form


def checked_challenge(challenge):
    if challenge is not None and (not isinstance(challenge, str) or not 0 < len(challenge) <= MAX_CHALLENGE):
        raise ValidationFailed(details={"challenge": [f"A text of 1 to {MAX_CHALLENGE} characters."]})
    return challenge


def window_page(answer, source, request):
    """The page (`ops_events`' answer) a signed window holds, when `source` signed it as the answer to
    `request`; OriginNotProven otherwise (the rebuild then fails: something else answers for the
    upstream). The window's signature covers every envelope's bytes; each envelope keeps its own
    signature too, for whoever passes it on, and one that names another source, or carries no
    signature by a key published for its source, is left out (logged without its payload): a service
    speaks for its own events only, and what it never signed is not its history."""
    if isinstance(answer, InlineWindow):
        window, signature = answer.window, answer.signature
    else:  # the form before INLINE: the window as a JSON string
        window = answer.get("window") if isinstance(answer, dict) else None
        signature = answer.get("signature") if isinstance(window, str) else None
        window = window.encode("utf-8") if isinstance(window, str) else None
    if window is None:
        raise OriginNotProven(f"{source}'s answer is not a signed window")
    window_verified(source, request, window, signature)
    page = fastjson.loads(window)  # the bytes the signature covers, parsed once
    kids, items = kids_of(source), page["items"]
    for index, item in enumerate(items):  # one walk; a list of its own only when one is left out
        if item.get("source") != source or _kid(item) not in kids:
            page["items"] = items[:index] + [other for other in items[index:] if _proven(other, source, kids)]
            break
    return page


def _proven(item, source, kids):
    """Whether an envelope of a signed window is `source`'s own, signed by a key of its; logged when not."""
    if item.get("source") == source and _kid(item) in kids:
        return True
    log.error("left out %s %s at position %s of %s's history: origin not proven (an event of %r, key %r)",
              item.get("event_type"), item.get("event_id"), item.get("position"), source, item.get("source"),
              _kid(item))
    return False


def _kid(envelope):
    signature = envelope.get("signature")
    return signature.get("kid") if isinstance(signature, dict) else None


def upstream_fetcher(config, caller, timeout=60):
    """`fetch(source, after, limit, until=None)`: a page of `source`'s `ops_events`, asked from a
    green thread outside any worker (a rebuild); `fetch.ask(...)` the same without waiting (its
    `.result()` waits). Its reply queue is named after the calling service, as its broker user may
    consume (deploy/broker_policy.py), not after nameko's standalone proxy, and bound to
    `nameko-rpc` without declaring it, which that user may not (rpc.py). Each page is asked with a
    challenge of its own and believed only as a window `source` signed for it (`window_page`): a
    rebuild believes its upstream's history no more than a consumer believes the bus (the name of
    a reply queue is all it takes to publish into it). Windows are asked in the newest of FORMS; a
    source of a release before it (during an upgrade) refuses the call (its `ops_events` knows no
    `form`, or not that one), and is asked again, and from then on, in the form before: one refusal
    per source, form and rebuild, logged by the source as an error."""

    class Proxy(ClusterRpcProxy):
        class ServiceContainer(ClusterRpcProxy.ServiceContainer):
            service_name = caller

    cluster = Proxy(config, timeout=timeout)
    proxy = cluster.start()
    refused = {}  # source -> the place in FORMS of the form it is asked in (0, the newest, unless refused)

    def ask(source, after, limit, until=None):
        challenge = secrets.token_urlsafe(16)
        form = FORMS[refused.get(source, 0)]
        reply = getattr(proxy, source).ops_events.call_async(after=after, limit=limit, until=until, challenge=challenge,
                                                             **({"form": form} if form else {}))
        return _Proven(reply, source, window_request(source, after, limit, None, until, challenge),
                       (lambda level: older_form(source, form, level, after, limit, until)) if form else None, form)

    def older_form(source, form, level, after, limit, until):
        _older(source, form, level, refused)
        return ask(source, after, limit, until)

    def fetch(source, after, limit, until=None):
        return ask(source, after, limit, until).result()

    fetch.ask, fetch.close, fetch.proxy = ask, cluster.stop, proxy  # proxy: other calls a rebuild makes
    return fetch


def _older(source, form, level, refused):
    """`source` refused `form`: from now on FORMS[level] (several pages asked at once may each have
    been refused the same form: said once)."""
    if refused.get(source, 0) < level:
        refused[source] = level
        log.warning("%s answers ops_events in the form of a release before this one (not %r): its windows are "
                    "read as %s until it is upgraded", source, form,
                    f"{FORMS[level]!r}" if FORMS[level] else "JSON strings (slower)")


def _form_after(exc, form):
    """Which of FORMS to ask next when `exc` is an older release's refusal of `form` (None: it is
    not): an entrypoint that takes no `form` at all (nameko's check, or the call itself), the form
    of the release before them all; one that takes another (its validation names `form`), the next."""
    if isinstance(exc, ServiceError):
        return FORMS.index(form) + 1 if exc.code == VALIDATION_ERROR and "form" in exc.details else None
    if exc.exc_type in ("IncorrectSignature", "TypeError") and "'form'" in str(exc.value):
        return FORMS.index(None)
    return None


class _Proven:
    """A page asked of `source`: its `result()` holds only what `source` signed (`window_page`).
    `again`: the same page asked in the form before, if `source` refuses the form asked."""

    def __init__(self, reply, source, request, again=None, form=None):
        self.reply, self.source, self.request, self.again, self.form = reply, source, request, again, form

    def result(self):
        try:
            answer = self.reply.result()
        except (RemoteError, ServiceError) as exc:
            level = None if self.again is None else _form_after(exc, self.form)
            if level is None:
                raise
            return self.again(level).result()
        return window_page(answer, self.source, self.request)

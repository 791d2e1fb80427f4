"""What a running service tells its operators (the `eport` tool) over RPC: its stores and streams.

A service class adds `Operated` to its bases and gets `ops_status`, `ops_events` and, where it
keeps a read model, `ops_rebuild`. Every dependency provider of the container that has an
`operations_status()` method reports (the EventSourced stores with their relays, the audit log);
the one that publishes (has a relay) answers `ops_events` with its integration events exactly as
the relay publishes them, each with its position in the notification log. Asked with a `challenge`
(a rebuild does), it answers the page as one window signed by the service's event key, bound to the
request (`signed_window`): the rebuild checks one signature per window instead of one per event.
How a window is signed, carried and checked, and how a rebuild asks for it: services/common/windows.py.
"""
import logging
from collections import deque

import eventlet

from nameko.extensions import DependencyProvider

from contracts import errors as e
from contracts.errors import ServiceError, ValidationFailed

from .bootstrap import event_store_env
from .event_keys import as_published
from .heap import FrozenHeap
from .postgres import RebuildBoard
from .published import mark_of
from .rpc import Encoded, rpc
from .windows import checked_challenge, checked_form, signed_window, upstream_fetcher

log = logging.getLogger(__name__)

MAX_EVENTS = 1000  # per call
MAX_SCAN = 5000  # notifications read per call when a type filter skips most of them


class Operations(DependencyProvider):
    def get_dependency(self, worker_ctx):
        return self

    def _reporting(self):
        return sorted((d for d in self.container.dependencies if hasattr(d, "operations_status")),
                      key=lambda d: d.attr_name)

    def status(self):
        return {"service": self.container.service_name,
                "stores": [d.operations_status() for d in self._reporting()]}

    def publisher(self):
        for d in self._reporting():
            if getattr(d, "relay", None) is not None:
                return d
        raise ServiceError(e.NOT_FOUND, f"{self.container.service_name} publishes no events.")

    def rebuildable(self, projection):
        for d in self.container.dependencies:
            if projection in getattr(d, "rebuildable_projections", ()):
                return d
        raise ServiceError(e.NOT_FOUND, f"{self.container.service_name} keeps no read model {projection!r}.")


def _count(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationFailed(details={name: [f"An integer from {low} to {high}."]})
    return value


def _window(app, after, limit, until):
    """(after, limit, end, stop) of a read: checked, with the log's end and where the read stops."""
    after = _count("after", after, 0, 2 ** 62)
    limit = _count("limit", limit, 1, MAX_EVENTS)
    end = app.recorder.max_notification_id() or 0
    stop = end if until is None else min(_count("until", until, 0, 2 ** 62), end)
    return after, limit, end, stop


def read_events(app, to_integration, after=0, limit=100, event_type=None, until=None):
    """The integration events of `app`'s notification log after position `after` (up to position
    `until` included, when it is given), each mapped from its stored event.

    Returns {"items": [envelope + "position"], "next": position to ask from next, "end": the
    log's last position}; scans at most MAX_SCAN notifications, so a rare type may need more calls.
    """
    return _mapped(app, to_integration, after, limit, event_type, until)[0]


def _mapped(app, to_integration, after, limit, event_type, until):
    """read_events' answer, and the last notification it read (None if none)."""
    after, limit, end, stop = _window(app, after, limit, until)
    items, position, last = [], after, None
    while position < stop and len(items) < limit and position - after < MAX_SCAN:
        notifications = app.recorder.select_notifications(
            start=position, limit=min(MAX_EVENTS, MAX_SCAN), stop=stop, inclusive_of_start=False)
        if not notifications:  # none left up to `stop` (ids a rolled-back write took leave gaps)
            position = stop
            break
        for n in notifications:
            domain_event = app.mapper.to_domain_event(n)
            for envelope in to_integration(domain_event):
                if event_type is None or envelope["event_type"] == event_type:
                    item = as_published(envelope, domain_event)  # a dict of its own, signed
                    item["position"] = n.id
                    items.append(item)
            position, last = n.id, n
            if len(items) >= limit:
                break
    return {"items": items, "next": position, "end": end}, last


def events_page(app, to_integration, published, after=0, limit=100, event_type=None, until=None):
    """`read_events`' answer as JSON text (rpc.Encoded), from the published log
    (services/common/published.py) where it holds the positions asked, with no event decoded or
    mapped; elsewhere the events are mapped, and the published log keeps them for the next read."""
    if published is None or event_type is not None:  # a type filter is rare (`eport events --type`)
        return read_events(app, to_integration, after, limit, event_type, until)
    after, limit, end, stop = _window(app, after, limit, until)
    if after >= stop:
        return {"items": [], "next": after, "end": end}
    held = published.read(after, stop, limit)
    texts, count, position = ([], 0, after) if held is None else held
    if position < stop and count < limit:  # not held, or the range held ended first: mapped, as read_events would
        page, last = _mapped(app, to_integration, position, limit - count, None, stop)
        texts = texts + published.put(position, page["next"], page["items"], None if last is None else mark_of(last))
        position = page["next"]
    return Encoded(b'{"items":[%s],"next":%d,"end":%d}' % (b",".join(texts), position, end))


READ_AHEAD = 3  # windows asked for ahead of the one being written


def pages_of(fetch, source, after, page, depth=READ_AHEAD):
    """Every page of `source`'s events after position `after` to the end of its log, in order.

    The next `depth` windows of `page` positions are asked for before a page is handed out, so the
    upstream reads them while the caller writes this one, with no pause between two pages (and
    several instances of the upstream read several at once). The end is the log's end when the
    first page came; a caller that must see later events asks again from where this ended."""
    first = fetch(source, after, page)
    yield first
    planned, end, asked = first["next"], first["end"], deque()
    while True:
        while len(asked) < depth and planned < end:
            until = min(planned + page, end)
            asked.append((until, fetch.ask(source, planned, MAX_EVENTS, until)))
            planned = until
        if not asked:
            return
        until, reply = asked.popleft()
        result = reply.result()
        yield result
        while result["next"] < until:  # a window of more than MAX_EVENTS envelopes: the rest of it
            before, result = result["next"], fetch(source, result["next"], MAX_EVENTS, until)
            if result["next"] <= before:
                raise RuntimeError(f"{source}'s events did not move past position {before}")
            yield result


class Rebuilding:
    """Mix-in of a dependency provider keeping a read model that `eport rebuild` rebuilds: one
    rebuild at a time in a managed thread; `make_rebuild(fetch, page)` returns an object with
    `run()`, `state` and `progress()` (services/audit/rebuild.py, services/notify/rebuild.py). On
    PostgreSQL, where instances of the service share the read model, one at a time across them,
    and any of them answers its progress (services/common/postgres.py RebuildBoard)."""

    rebuild = None
    _board = None

    def rebuild_board(self):
        """The board the service's instances share on PostgreSQL; None on SQLite (one instance)."""
        if self._board is None:
            env = event_store_env(self.container.service_name)
            self._board = RebuildBoard(env["SQLALCHEMY_URL"]) \
                if env["PERSISTENCE_MODULE"] == "eventsourcing_sqlalchemy" else False
        return self._board or None

    def operations_rebuild(self, projection, action, page):
        board = self.rebuild_board()
        running_here = self.rebuild is not None and self.rebuild.state == "running"
        if action == "start" and not running_here and (
                board is None or board.claim(projection, {"projection": projection, "state": "running"})):
            fetch = upstream_fetcher(self.container.config, self.container.service_name)
            self.rebuild = rebuild = self.make_rebuild(fetch, page)
            post = (lambda progress: board.post(projection, progress)) if board is not None else None
            self.container.spawn_managed_thread(lambda: _run_then_close(rebuild, fetch, post))
            running_here = True
        if board is not None and not running_here:  # another instance's, or this one's, ended
            return board.progress(projection) or {"projection": projection, "state": "idle"}
        if self.rebuild is None:
            return {"projection": projection, "state": "idle"}
        return self.rebuild.progress()


def _run_then_close(rebuild, fetch, post=None):
    poster = eventlet.spawn(_posting, rebuild, post) if post is not None else None
    try:
        rebuild.run()  # says itself how it failed (its state), never raises
    finally:
        if poster is not None:
            poster.kill()
            _post(post, rebuild)
        try:
            fetch.close()
        except Exception as exc:  # noqa: BLE001 - a managed thread that raises ends the service
            log.warning("closing the rebuild's upstream proxy failed (%s)", exc)


def _posting(rebuild, post):
    while rebuild.state == "running":
        _post(post, rebuild)
        eventlet.sleep(RebuildBoard.EVERY)


def _post(post, rebuild):
    try:
        post(rebuild.progress())
    except Exception as exc:  # noqa: BLE001 - the rebuild goes on; the other instances see it later
        log.warning("the rebuild's progress was not posted for the other instances (%s)", exc)


class Operated:
    """Mix-in of every service class: `ping` and the operators' RPCs (`eport status|events|replay|rebuild`)."""

    operations = Operations()
    heap = FrozenHeap()  # the start-up's objects out of full collections: the checks' p99 tail

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def ops_status(self):
        return self.operations.status()

    @rpc
    def ops_events(self, after=0, limit=100, event_type=None, until=None, challenge=None, form=None):
        """A page of the service's integration events; with `challenge`, signed as one window (carried
        as it is with `form` "inline", else as a JSON string)."""
        sourced, challenge, form = self.operations.publisher(), checked_challenge(challenge), checked_form(form)
        answer = events_page(sourced.app, sourced.to_integration, sourced.published, after, limit, event_type, until)
        if challenge is None:
            return answer
        return signed_window(self.name, answer, after, limit, event_type, until, challenge, form)

    @rpc
    def ops_rebuild(self, projection, action="start", page=None):
        """`start` a rebuild of a read model (it runs in the service) or ask its `progress`;
        `page`: events per request to each upstream service."""
        if action not in ("start", "progress"):
            raise ValidationFailed(details={"action": ["start or progress."]})
        page = MAX_EVENTS if page is None else _count("page", page, 1, MAX_EVENTS)
        return self.operations.rebuildable(projection).operations_rebuild(projection, action, page)

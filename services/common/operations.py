"""What a running service tells its operators (the `eport` tool) over RPC: its stores and streams.

A service class adds `Operated` to its bases and gets `ops_status`, `ops_events` and, where it
keeps a read model, `ops_rebuild`. Every dependency provider of the container that has an
`operations_status()` method reports (the EventSourced stores with their relays, the audit log);
the one that publishes (has a relay) answers `ops_events` with its integration events exactly as
the relay publishes them, each with its position in the notification log.
"""
from nameko.extensions import DependencyProvider

from contracts import errors as e
from contracts.errors import ServiceError, ValidationFailed

from .correlation import with_correlation
from .rpc import rpc

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
        raise ValidationFailed({name: [f"An integer from {low} to {high}."]})
    return value


def read_events(app, to_integration, after=0, limit=100, event_type=None):
    """The integration events of `app`'s notification log after position `after`.

    Returns {"items": [envelope + "position"], "next": position to ask from next, "end": the
    log's last position}; scans at most MAX_SCAN notifications, so a rare type may need more calls.
    """
    after = _count("after", after, 0, 2 ** 62)
    limit = _count("limit", limit, 1, MAX_EVENTS)
    items, position = [], after
    end = app.recorder.max_notification_id() or 0
    while position < end and len(items) < limit and position - after < MAX_SCAN:
        notifications = app.recorder.select_notifications(
            start=position, limit=min(MAX_EVENTS, MAX_SCAN), inclusive_of_start=False)
        if not notifications:
            break
        for n in notifications:
            domain_event = app.mapper.to_domain_event(n)
            for envelope in to_integration(domain_event):
                if event_type is None or envelope["event_type"] == event_type:
                    items.append(dict(with_correlation(envelope, domain_event), position=n.id))
            position = n.id
            if len(items) >= limit:
                break
    return {"items": items, "next": position, "end": end}


def upstream_fetcher(config, caller, timeout=60):
    """`fetch(source, after, limit)`: a page of `source`'s `ops_events`, asked from a green thread
    outside any worker (a rebuild). Its reply queue is named after the calling service, as its
    broker user may consume (deploy/broker_policy.py), not after nameko's standalone proxy."""
    from nameko.standalone.rpc import ClusterRpcProxy

    class Proxy(ClusterRpcProxy):
        class ServiceContainer(ClusterRpcProxy.ServiceContainer):
            service_name = caller

    cluster = Proxy(config, timeout=timeout)
    proxy = cluster.start()

    def fetch(source, after, limit):
        return getattr(proxy, source).ops_events(after=after, limit=limit)

    fetch.close = cluster.stop
    return fetch


class Rebuilding:
    """Mix-in of a dependency provider keeping a read model that `eport rebuild` rebuilds: one
    rebuild at a time in a managed thread; `make_rebuild(fetch, page)` returns an object with
    `run()`, `state` and `progress()` (services/audit/rebuild.py, services/notify/inbox_rebuild.py)."""

    rebuild = None

    def operations_rebuild(self, projection, action, page):
        if action == "start" and (self.rebuild is None or self.rebuild.state != "running"):
            fetch = upstream_fetcher(self.container.config, self.container.service_name)
            self.rebuild = self.make_rebuild(fetch, page)
            self.container.spawn_managed_thread(lambda: _run_then_close(self.rebuild, fetch))
        if self.rebuild is None:
            return {"projection": projection, "state": "idle"}
        return self.rebuild.progress()


def _run_then_close(rebuild, fetch):
    try:
        rebuild.run()
    finally:
        fetch.close()


class Operated:
    """Mix-in of a service class: the operators' RPCs (`eport status|events|replay|rebuild`)."""

    operations = Operations()

    @rpc
    def ops_status(self):
        return self.operations.status()

    @rpc
    def ops_events(self, after=0, limit=100, event_type=None):
        sourced = self.operations.publisher()
        return read_events(sourced.app, sourced.to_integration, after, limit, event_type)

    @rpc
    def ops_rebuild(self, projection, action="start", page=None):
        """`start` a rebuild of a read model (it runs in the service) or ask its `progress`;
        `page`: events per request to each upstream service."""
        if action not in ("start", "progress"):
            raise ValidationFailed({"action": ["start or progress."]})
        page = MAX_EVENTS if page is None else _count("page", page, 1, MAX_EVENTS)
        return self.operations.rebuildable(projection).operations_rebuild(projection, action, page)

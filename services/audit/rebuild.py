"""Rebuilding the audit log from the upstream streams while the platform runs.

The new log is built beside the live one (`AuditStore.sibling`) from each source's history, read
page by page from the source's `ops_events` (the integration events its relay publishes, in its
order), while the live log goes on recording what the consumers receive. When every source is
read to its end, the live log stops recording for a moment (`held`), the rebuild reads what the
sources stored meanwhile, and the new log takes the live one's place (`adopt`). So nothing is lost:
an event stored before that last read is in the history, one stored after it is consumed after the
swap, into the new log. Nothing is doubled: the log keeps each event_id once. Queries answer from
the complete old log until the swap.
"""
import logging
import time

from services.common.deployment import PUBLISHERS as SOURCES
from services.common.operations import pages_of

from .operations import SOURCE as OPERATIONS
from .store import INSERT

log = logging.getLogger(__name__)

PAGE = 1000  # events per ops_events call


def keep_operations(live, fresh):
    """The operators' records (services/audit/operations.py) of the live log into the rebuilt one,
    as they are (sealed with the same key): no upstream's history holds them."""
    rows = live._run("SELECT * FROM audit_events WHERE source = ?", (OPERATIONS,)).fetchall()
    if rows:
        fresh._begin()
        fresh._run_many(INSERT, [tuple(row) for row in rows])
        fresh._run("COMMIT")


class AuditRebuild:
    """`fetch(source, after, limit)` answers like `ops_events`: {"items", "next", "end"}."""

    def __init__(self, store, fetch, sources=SOURCES, page=PAGE):
        self.store, self.fetch, self.sources, self.page = store, fetch, tuple(sources), page
        self.state, self.error = "running", None  # from its creation: the caller spawns run() next
        self.applied = 0
        self.positions = {s: 0 for s in self.sources}
        self.ends = {s: None for s in self.sources}
        self.started, self.finished = time.monotonic(), None

    def progress(self):
        elapsed = (self.finished or time.monotonic()) - self.started
        return {"projection": "audit-log", "state": self.state, "error": self.error, "applied": self.applied,
                "positions": dict(self.positions), "ends": dict(self.ends), "seconds": round(elapsed, 3)}

    def run(self):
        fresh = self.store.sibling()
        try:
            self._catch_up(fresh)
            fresh.finish_bulk()  # its indexes now, while the live log still records and answers
            self._catch_up(fresh, until_within=self.page)  # what came meanwhile, so that the pause is short
            with self.store.held():
                self._catch_up(fresh)
                keep_operations(self.store, fresh)
                self.store.adopt(fresh)
        except Exception as exc:  # the live log stays as it was
            log.exception("audit log rebuild failed")
            self.state, self.error = "failed", f"{type(exc).__name__}: {exc}"
            fresh.discard()
        else:
            self.state = "done"
            log.info("audit log rebuilt from %d events", self.applied)
        self.finished = time.monotonic()
        return self.progress()

    def _catch_up(self, fresh, until_within=None, passes=5):
        """Every source to the end its log had when it was asked; with `until_within`, again while a
        pass found more than that many new events (at most `passes` times)."""
        for _ in range(passes if until_within else 1):
            applied = self.applied
            for source in self.sources:
                self._follow(fresh, source)
            if until_within is None or self.applied - applied <= until_within:
                return

    def _follow(self, fresh, source):
        for page in pages_of(self.fetch, source, self.positions[source], self.page):
            fresh.record_many(page["items"])
            self.applied += len(page["items"])
            self.positions[source], self.ends[source] = page["next"], page["end"]

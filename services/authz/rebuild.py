"""Rebuilding the authz projection while authz runs (`eport rebuild authz`).

Two parts. First the upstream: every enterprise event authz learns from is read again from
enterprise's `ops_events` and handed to `learn`, which skips what it has processed, so a fact authz
missed (a message dropped from its dead letters, a queue unbound for a while) is learnt now, in
the same transaction as its processed mark. Then the projection: a new `AccessProjection` is built
from the start of authz's own log beside the one serving checks, and takes its place after a last
catch-up during which no save can notify (`AuthzApplication.swap_projection`), so a command that
returned is visible to the next check. A missed event is learnt on today's state: one that a later
event already overtook (a removal learnt before the approval it ends) is not put back in order.
"""
import logging
import time

from .application import LEARNT_TYPES
from .projection import AccessProjection

log = logging.getLogger(__name__)

SOURCE = "enterprise"


class AuthzRebuild:
    def __init__(self, app, fetch, page):
        self.app, self.fetch, self.page = app, fetch, page
        self.state, self.error, self.applied, self.learnt = "running", None, 0, 0
        self.positions = {SOURCE: 0, "authz": 0}
        self.ends = {SOURCE: None, "authz": None}
        self.started, self.finished = time.monotonic(), None

    def progress(self):
        elapsed = (self.finished or time.monotonic()) - self.started
        return {"projection": "authz", "state": self.state, "error": self.error, "applied": self.applied,
                "learnt": self.learnt, "positions": dict(self.positions), "ends": dict(self.ends),
                "seconds": round(elapsed, 3)}

    def run(self):
        try:
            self._relearn()
            self.ends["authz"] = self.app.recorder.max_notification_id() or 0
            fresh = AccessProjection(self.app)
            fresh.catch_up()
            self.positions["authz"] = self.app.swap_projection(fresh)
        except Exception as exc:  # the projection serving checks stays
            log.exception("authz projection rebuild failed")
            self.state, self.error = "failed", f"{type(exc).__name__}: {exc}"
        else:
            self.state = "done"
        self.finished = time.monotonic()
        return self.progress()

    def _relearn(self):
        while True:
            page = self.fetch(SOURCE, self.positions[SOURCE], self.page)
            for envelope in page["items"]:
                if envelope["event_type"] in LEARNT_TYPES:
                    self.learnt += bool(self.app.learn({k: v for k, v in envelope.items() if k != "position"}))
                self.applied += 1
            moved = page["next"] > self.positions[SOURCE]
            self.positions[SOURCE], self.ends[SOURCE] = page["next"], page["end"]
            if not moved or page["next"] >= page["end"]:
                return

"""Rebuilding the message inbox from its sources' streams while notify runs (`eport rebuild inbox`).

A new inbox store is built beside the live one (services/common/swap.py): every enterprise, authz
and identity event the inbox consumes, read page by page from each source's `ops_events`, is delivered to it as
the consumer would (a permission message named with its enterprise's name, asked of `peers`), and the
messages people marked read in the live inbox are marked read there too (read marks are the inbox's
own facts: no upstream has them). Then the inbox's calls pause, in every notify instance, for a
last catch-up of all, and the new store takes the live one's place. Message ids derive from the
event and the recipient, so the same event makes the same message in both. The rebuilt inbox lists
one source's messages after another's (enterprise, authz, identity), not interleaved by time as
they arrived.
"""
import logging
import time

from contracts.subscriptions import subscription

from .application import named

log = logging.getLogger(__name__)

SOURCES = ("enterprise", "authz", "identity")
READS = 1000  # notifications of the live store read at a time for its read marks


class InboxRebuild:
    def __init__(self, sourced, fetch, page, peers):
        self.sourced, self.fetch, self.page, self.peers = sourced, fetch, page, peers
        self.kinds = {source: set(subscription("notify", source).event_types) for source in SOURCES}
        self.state, self.error, self.applied = "running", None, 0
        self.positions = {**dict.fromkeys(SOURCES, 0), "read-marks": 0}
        self.ends = {**dict.fromkeys(SOURCES), "read-marks": None}
        self.started, self.finished = time.monotonic(), None

    def progress(self):
        elapsed = (self.finished or time.monotonic()) - self.started
        return {"projection": "inbox", "state": self.state, "error": self.error, "applied": self.applied,
                "positions": dict(self.positions), "ends": dict(self.ends), "seconds": round(elapsed, 3)}

    def run(self):
        fresh = None
        try:
            fresh = self.sourced.sibling()
            self._catch_up(fresh)
            with self.sourced.paused():  # every instance's calls wait (services/common/swap.py)
                self._catch_up(fresh)
                self.sourced.adopt(fresh)
        except Exception as exc:  # the live inbox stays as it was, and the service runs on
            log.exception("inbox rebuild failed")
            self.state, self.error = "failed", f"{type(exc).__name__}: {exc}"
            if fresh is not None:
                self.sourced.discard(fresh)
        else:
            self.state = "done"
        self.finished = time.monotonic()
        return self.progress()

    def _catch_up(self, fresh):
        for source in SOURCES:
            self._deliver_upstream(fresh, source)
        self._copy_read_marks(fresh)

    def _deliver_upstream(self, fresh, source):
        while True:
            page = self.fetch(source, self.positions[source], self.page)
            for envelope in page["items"]:
                if envelope["event_type"] in self.kinds[source]:
                    fresh.deliver(named({k: v for k, v in envelope.items() if k != "position"}, self.peers))
                self.applied += 1
            moved = page["next"] > self.positions[source]
            self.positions[source], self.ends[source] = page["next"], page["end"]
            if not moved or page["next"] >= page["end"]:
                return

    def _copy_read_marks(self, fresh):
        live = self.sourced.app
        self.ends["read-marks"] = live.recorder.max_notification_id() or 0
        while True:
            notifications = live.recorder.select_notifications(
                start=self.positions["read-marks"], limit=READS, inclusive_of_start=False)
            for n in notifications:
                if n.topic.endswith("Inbox.MessageRead"):
                    read = live.mapper.to_domain_event(n)
                    inbox = fresh.repository.get(read.originator_id)
                    inbox.mark_read(read.message_id, read.read_at)
                    fresh.save(inbox)
                self.positions["read-marks"] = n.id
            if len(notifications) < READS:
                return

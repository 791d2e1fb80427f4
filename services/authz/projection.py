"""The read model every check is served from: each enterprise's `EnterpriseAccess`, in memory.

It follows the service's own notification log: rebuilt from the start of the log when the
application starts, advanced right after each save of this process (so a PUT's change is visible
to checks before the PUT returns), and by a periodic catch-up for changes saved by other instances
of the service sharing the store. The same aggregate class applies the events, so a check applies
exactly the rules the commands enforce.
"""
import threading

from eventsourcing.utils import get_topic

from .domain import EnterpriseAccess

BATCH = 500


class AccessProjection:
    def __init__(self, app):
        self._app = app
        self._lock = threading.Lock()
        self._topic_prefix = get_topic(EnterpriseAccess) + "."
        self.position = 0
        self._by_aggregate = {}  # aggregate id -> EnterpriseAccess
        self.by_enterprise = {}  # enterprise_id -> EnterpriseAccess

    def catch_up(self):
        """Apply every notification after the current position; returns how many it read."""
        read = 0
        with self._lock:
            while True:
                notifications = self._app.recorder.select_notifications(
                    start=self.position, limit=BATCH, inclusive_of_start=False)
                for n in notifications:
                    if n.topic.startswith(self._topic_prefix):  # skip processed-marks undecoded
                        self._apply(self._app.mapper.to_domain_event(n))
                    self.position = n.id
                read += len(notifications)
                if len(notifications) < BATCH:
                    return read

    def _apply(self, domain_event):
        access = self._by_aggregate.get(domain_event.originator_id)
        access = domain_event.mutate(access)
        if access.version == 1:
            self._by_aggregate[access.id] = access
            self.by_enterprise[access.enterprise_id] = access

    # -- reads (no I/O: a dict look-up or two) -------------------------------------------------
    def get(self, enterprise_id):
        return self.by_enterprise.get(enterprise_id)

    def allows(self, user_id, enterprise_id, system):
        access = self.by_enterprise.get(enterprise_id)
        return access is not None and access.allows(user_id, system)

"""The eventsourcing Application as a Nameko dependency, with its relay running beside it."""
import logging
import threading

import eventlet

from .context import APPLICATION, RequestContext
from .event_keys import signer
from .outages import Retrying
from .relay import AmqpPublisher, NotificationRelay
from .bootstrap import published_log, relay_positions

log = logging.getLogger(__name__)


class EventSourced(RequestContext):
    """`app = EventSourced(IdentityApplication, to_integration)` on a Nameko service class.

    One Application per container (workers share it: eventsourcing applications are thread-safe),
    and one relay green thread publishing its notification log; `to_integration=None` for a
    service that publishes nothing. As a RequestContext, it makes each worker's context data
    current, so the events the worker saves carry its correlation id, and its commands run once
    under their command id (services/common/commands.py).
    """

    def __init__(self, app_cls, to_integration=None, relay_idle_seconds=0.5):
        self.app_cls = app_cls
        self.to_integration = to_integration
        self.relay_idle_seconds = relay_idle_seconds
        self.app = None
        self.relay = None
        self.published = None  # the envelopes the relay published, for replays (services/common/published.py)
        self._wake = threading.Event()
        self._running = False

    def setup(self):
        self.app = self.app_cls()
        if self.to_integration is not None:
            source = self.app_cls.service_name
            signer(source)  # refuses to start without its key, rather than at the first event
            config = self.container.config
            publisher = AmqpPublisher(config["AMQP_URI"], source, ssl=config.get("AMQP_SSL"))
            positions = relay_positions(source)
            self.published = published_log(source, self.app, self.to_integration)
            self.relay = NotificationRelay(self.app, self.to_integration, publisher, positions,
                                           name=f"{source}->amqp", published=self.published)
            self.app.on_recorded(self._wake.set)

    def start(self):
        if self.relay is not None:
            self._running = True
            self.container.spawn_managed_thread(self._relay_forever)

    def stop(self):
        self._running = False
        self._wake.set()
        if self.relay is not None:
            self.relay.publisher.close()
            self.relay.positions.close()
        if self.published is not None:
            self.published.close()
        if self.app is not None:
            self.app.close()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return self.app

    def own_values(self):
        return {APPLICATION: self.app}  # the application a command of this worker runs on (commands.py)

    def operations_status(self):
        """What `eport status` shows of this store: events stored, published, the relay's lag, and
        the positions its published log holds."""
        stored = self.app.recorder.max_notification_id() or 0
        published = self.relay.positions.get(self.relay.name) if self.relay is not None else None
        return {"store": self.app_cls.service_name, "stored": stored, "published": published,
                "lag": None if published is None else max(stored - published, 0),
                "kept": None if self.published is None else self.published.held()}

    def _relay_forever(self):
        retrying = Retrying(log, f"relay of {self.app_cls.service_name}")
        while self._running:
            try:  # nothing may end this thread: nameko would end the service with it
                if not self.relay.positions.hold_lease(self.relay.name):
                    self._wake.wait(2)  # another instance relays; take over if it goes away
                    self._wake.clear()
                    continue
                # Cleared before reading, so an event recorded from here on wakes the wait below.
                self._wake.clear()
                published = self.relay.run_once()
            except Exception:  # broker away or a mapping bug: keep the position, retry later
                self.relay.publisher.close()
                eventlet.sleep(retrying.failed())
                continue
            retrying.worked()
            if published < self.relay.batch_size:  # drained: no second read to find it empty
                self._wake.wait(self.relay_idle_seconds)

"""Aggregate shapes more than one service needs."""
import uuid

from eventsourcing.domain import Aggregate, event


class KeyedList(Aggregate):
    """An append-only list of ids under a key, e.g. the associations of one enterprise.

    Its id is uuid5(namespace, key), so it is found without another index, and two commands that
    add to the same list conflict on save like any other aggregate. Subclasses set `namespace`.
    """

    namespace = uuid.UUID("5b1f0e36-7c2d-4a8e-9f14-3d6b2a7c8e90")

    @classmethod
    def create_id(cls, key):
        return uuid.uuid5(cls.namespace, key)

    @event("Started")
    def __init__(self, *, key):
        self.key = key
        self.items = []

    def add_once(self, item):
        if item not in self.items:
            self._added(item=item)

    @event("Added")
    def _added(self, item):
        self.items.append(item)

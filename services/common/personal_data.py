"""A person's copy of their data (shared/API.md "Personal data", PIPL Art. 45): what each service
answers for one user id, in plain JSON, for the export the gateway assembles
(contracts/personal_data.py, its JSON Schema contracts/schemas/personal-data-export.json).

- `history(app, aggregate_id)`: every stored event of one of the person's aggregates, unmasked;
- `events_naming(app, user_id, classes, also)`: the events of those aggregate classes whose `user_id`
  is the person, for a service that keeps no index by person (a scan of its notification log);
- `mentioning(events, user_id)`: those of an aggregate's events that name the person;
- `plain(value)`: JSON types only.
Secrets derived for checks (fields named `*_digest`, `*_hash`, `seed`, `secret…`) are left out:
they tell the person nothing and would help whoever intercepts the copy."""
import json

from eventsourcing.utils import get_topic

from .application import as_uuid

BATCH = 500
_HEADER = ("originator_id", "originator_version", "timestamp")


def plain(value):
    """`value` in JSON types only (UUIDs, times, sets as text or lists)."""
    return json.loads(json.dumps(value, default=_jsonable, ensure_ascii=False))


def _jsonable(value):
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value, key=str)
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _secret(name):
    return name.endswith(("_digest", "_hash")) or name in ("seed", "digest") or name.startswith("secret")


def event_view(domain_event):
    """One stored event as the person reads it: its type, its aggregate's version, time and fields."""
    fields = {k: v for k, v in vars(domain_event).items() if k not in _HEADER and not _secret(k)}
    return plain({"type": type(domain_event).__qualname__, "aggregate_id": domain_event.originator_id,
                  "version": domain_event.originator_version, "at": domain_event.timestamp, "fields": fields})


def history(app, aggregate_id):
    """Every stored event of the aggregate `aggregate_id` (a UUID or its text), oldest first."""
    uuid = as_uuid(aggregate_id)
    return [] if uuid is None else [event_view(ev) for ev in app.repository.event_store.get(uuid)]


def mentioning(events, user_id):
    """Those of `events` (event_view's) that name `user_id` in any field (an enterprise's events
    naming its administrator, a handover's two people)."""
    return [ev for ev in events if user_id in json.dumps(ev["fields"], ensure_ascii=False)]


def events_naming(app, user_id, classes, also=None):
    """The stored events of aggregates of `classes` that name `user_id` in their `user_id` field, or
    for which `also(event)` is true (and every later event of those aggregates), oldest first: a
    scan of the service's notification log, for what it keeps no index of by person."""
    prefixes = tuple(get_topic(cls) + "." for cls in classes)
    theirs, found, position = set(), [], 0
    while True:
        notifications = app.recorder.select_notifications(start=position, limit=BATCH, inclusive_of_start=False)
        for n in notifications:
            position = n.id
            if not n.topic.startswith(prefixes):
                continue
            domain_event = app.mapper.to_domain_event(n)
            if getattr(domain_event, "user_id", None) == user_id or (also is not None and also(domain_event)):
                theirs.add(domain_event.originator_id)
            if domain_event.originator_id in theirs:
                found.append(event_view(domain_event))
        if len(notifications) < BATCH:
            return found

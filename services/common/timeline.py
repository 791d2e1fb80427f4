"""The recent end of a service's notification log, found by time without reading its history.

Events are stored in the order they happen, so the time the library stamps on each (its
`timestamp`, the wall clock when the event was made) grows with its position. A bisection over
positions finds where the last stretch of time begins in about log2(N) single-row reads (each a
primary-key lookup and one decryption), and only what follows is read: what a gateway loads at
every start and reconnect (identity's revocations within a token's lifetime) costs what happened
within that time, not every logout ever stored.

The order is not exact: an event is stamped when it is made and numbered when its transaction
commits (a command that hashes a password between the two, several instances of a service on
PostgreSQL with clocks a little apart). DISORDER_MARGIN is subtracted from every bound: an event
stamped more than that before a later position's event would be missed, which is far longer than
any command runs. An event whose state cannot be read as expected counts as recent (read more,
never less).
"""
import logging
from datetime import UTC, datetime, timedelta

log = logging.getLogger(__name__)

DISORDER_MARGIN = 300  # seconds; see above
PAGE = 500


def first_position_after(recorder, mapper, since):
    """A position such that every event stored after `since` (an aware datetime) minus the margin
    comes after it: 0 when they all may, else the last position known to be older."""
    since = since - timedelta(seconds=DISORDER_MARGIN)
    old, recent = 0, (recorder.max_notification_id() or 0) + 1  # every position <= old is older than `since`
    while recent - old > 1:
        middle = (old + recent) // 2
        found = recorder.select_notifications(start=middle, limit=1)
        if not found or found[0].id >= recent:
            recent = middle  # nothing stored between middle and recent: recent's answer holds from middle
        elif _stamped(mapper, found[0]) < since:
            old = found[0].id
        else:
            recent = middle
    return old


def recent_events(application, topics, since):
    """The stored domain events of `topics` stamped after `since` minus the margin, oldest first
    (the caller filters them on its own times, which it sets with its injected clock)."""
    position = first_position_after(application.recorder, application.mapper, since)
    while True:
        batch = application.recorder.select_notifications(start=position, limit=PAGE, topics=list(topics),
                                                          inclusive_of_start=False)
        for notification in batch:
            yield application.mapper.to_domain_event(notification)
        if len(batch) < PAGE:
            return
        position = batch[-1].id


def since_seconds_ago(seconds):
    return datetime.now(UTC) - timedelta(seconds=seconds)


def _stamped(mapper, stored):
    """The library's timestamp of a stored event, read without making the event (no upcasting,
    no aggregate class); the far future when it cannot be read, so that it counts as recent."""
    try:
        state = stored.state
        state = mapper.cipher.decrypt(state) if mapper.cipher else state
        state = mapper.compressor.decompress(state) if mapper.compressor else state
        stamp = mapper.transcoder.decode(state)["timestamp"]
        return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)
    except Exception:  # noqa: BLE001 - any event we cannot read is read in full, never skipped
        log.warning("an event at position %s has no readable timestamp; reading from there", stored.id)
        return datetime.max.replace(tzinfo=UTC)

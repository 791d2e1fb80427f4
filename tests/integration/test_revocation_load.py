"""What a gateway loads at every start and reconnect (identity's revocations and session ends within a
token's lifetime) costs what happened within that time, not every logout ever stored: a store with
200,000 old revocations answers as fast as one without them, and still answers the recent ones.
On real SQLite stores, written by the application itself (the old ones stamped two hours ago)."""
import random
import time
import uuid
from datetime import UTC, datetime
from unittest import mock

import pytest

from contracts.tokens import ACCESS_TOKEN_TTL
from services.common import timeline
from services.identity.application import IdentityApplication
from services.identity.domain import RevokedSession

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OLD, RECENT = 200_000, 300
BATCH = 5_000


def store(monkeypatch, var, old):
    """An identity store of its own with `old` revocations made two hours ago, then RECENT ones now."""
    monkeypatch.setenv("EPORT_VAR", str(var))
    app = IdentityApplication()
    long_ago = time.time() - 4 * ACCESS_TOKEN_TTL
    with mock.patch.object(RevokedSession.Revoked, "create_timestamp",
                           staticmethod(lambda: datetime.fromtimestamp(long_ago, UTC))):
        for start in range(0, old, BATCH):
            app.save(*(revoked(long_ago) for _ in range(start, min(old, start + BATCH))))
    app.save(*(revoked(time.time()) for _ in range(RECENT)))
    return app


# a few people log out many times: each person's key (services/common/person_keys.py) is made once,
# with two synced writes; a new person per revocation would time the key store, not the timeline
PEOPLE = [str(uuid.uuid4()) for _ in range(8)]


def revoked(at):
    return RevokedSession(jti=uuid.uuid4().hex, user_id=random.choice(PEOPLE), revoked_at=at)


def load_time(app):
    """The best of five loads as a gateway asks them (both lists), in seconds."""
    times = []
    for _ in range(5):
        started = time.perf_counter()
        app.revoked_sessions(), app.sessions_ended_by_reset()
        times.append(time.perf_counter() - started)
    return min(times)


def test_the_load_does_not_grow_with_old_revocations_and_keeps_the_recent_ones(monkeypatch, tmp_path):
    without = store(monkeypatch, tmp_path / "without", 0)
    with_old = store(monkeypatch, tmp_path / "with", OLD)
    assert with_old.recorder.max_notification_id() == OLD + RECENT
    last = revoked(time.time())
    with_old.save(last)
    assert len(without.revoked_sessions()) == RECENT
    loaded = with_old.revoked_sessions()
    assert len(loaded) == RECENT + 1 and loaded[-1] == {"session_id": last.jti, "revoked_at": last.revoked_at}
    t_without, t_with = load_time(without), load_time(with_old)
    print(f"load with 0 old revocations: {t_without * 1000:.2f} ms; with {OLD}: {t_with * 1000:.2f} ms")
    assert t_with < 3 * t_without, (t_without, t_with)


def test_events_a_little_out_of_order_are_all_found(monkeypatch, tmp_path):
    """Stamped when made, numbered when saved: an event made before an older-numbered one (within
    the margin) is still read."""
    monkeypatch.setenv("EPORT_VAR", str(tmp_path))
    app = IdentityApplication()
    now, cutoff = time.time(), time.time() - ACCESS_TOKEN_TTL
    for stamp, count in [(cutoff - 3600, 1000), (cutoff + 5, 1), (cutoff - 60, 1), (cutoff + 1, 1), (now, 1000)]:
        with mock.patch.object(RevokedSession.Revoked, "create_timestamp",
                               staticmethod(lambda s=stamp: datetime.fromtimestamp(s, UTC))):
            app.save(*(revoked(stamp) for _ in range(count)))
    found = sorted(r["revoked_at"] for r in app.revoked_sessions())
    assert found == sorted([cutoff + 5, cutoff + 1] + [now] * 1000)
    position = timeline.first_position_after(app.recorder, app.mapper, datetime.fromtimestamp(cutoff, UTC))
    assert position == 1000  # skipped the old ones, read from the first within the margin

"""The published log (services/common/published.py) on a real SQLite file: `ops_events` answers
from it exactly what mapping the stored events answers, for any window, once it holds them; it
holds what it was given and no more; it forgets itself for other code; it is encrypted at rest."""
import json
import random

import pytest
from eventsourcing.cryptography import AESCipher as LibraryCipher
from eventsourcing.utils import Environment
from nameko.standalone.rpc import ServiceRpcProxy

from contracts.errors import ServiceError, ValidationFailed
from services.common import operations, windows
from services.common.dependency import EventSourced
from services.common.cipher import AESCipher
from services.common.operations import Operated, events_page, read_events
from services.common.published import PublishedLog, code_fingerprint, stored_mark
from services.common.relay import NotificationRelay
from services.common.rpc import Encoded, rpc
from services.common.bootstrap import published_log
from services.common.settings import StartRefused
from tests.support import wait_for
from tests.tally import NOTE, Tallies, Tally, to_integration

pytestmark = pytest.mark.integration


def cipher():
    return AESCipher(Environment(env={"CIPHER_KEY": LibraryCipher.create_key(16)}))


def plain(answer):
    """An answer as the caller gets it over RPC (JSON)."""
    return json.loads(answer.text) if isinstance(answer, Encoded) else json.loads(json.dumps(answer))


@pytest.fixture
def app(monkeypatch, fresh_var):
    monkeypatch.setenv("EVENT_STORE", "memory")
    app = Tallies()
    copies = [1, 0, 3, 1, 2, 0, 0, 1] * 30
    app.save(*(Tally(n, c) for n, c in enumerate(copies)))
    return app


@pytest.fixture
def published(app, fresh_var):
    log = PublishedLog(fresh_var / "demo-published.db", cipher(), code_fingerprint(to_integration),
                       lambda position: stored_mark(app, position))
    yield log
    log.close()


MARK = b"mark"


def synthetic(path, fingerprint="code", key=None):
    """A published log beside a store that holds MARK at every position."""
    return PublishedLog(path, key or cipher(), fingerprint, lambda position: MARK)


def test_every_window_answers_as_mapping_does_cold_and_then_held(app, published):
    rng = random.Random(7)
    end = app.recorder.max_notification_id()
    windows = [(rng.randrange(0, end + 3), rng.randrange(1, 40), rng.choice([None, rng.randrange(0, end + 5)]))
               for _ in range(300)]
    for after, limit, until in windows * 2:  # the second time every position asked is held
        expected = plain(read_events(app, to_integration, after, limit, None, until))
        assert plain(events_page(app, to_integration, published, after, limit, None, until)) == expected
    assert published.held() == end and published.read(0, end, 1000)[2] == end, "what was asked is kept"


def test_reading_it_page_by_page_gives_every_envelope_once(app, published, monkeypatch):
    """Across held and unheld positions: held from 50 to 120, the rest mapped (and then held)."""
    everything = plain(read_events(app, to_integration, 0, 1000))["items"]
    monkeypatch.setattr(operations, "MAX_EVENTS", 10)
    middle = [i for i in read_events(app, to_integration, 50, 10, None, 120)["items"]]
    while middle[-1]["position"] < 120 and len(middle) < 500:
        middle += read_events(app, to_integration, middle[-1]["position"], 10, None, 120)["items"]
    published.put(50, 120, middle, (120, stored_mark(app, 120)))
    for _ in range(2):
        items, position = [], 0
        while True:
            answer = plain(events_page(app, to_integration, published, position, 7))
            items += answer["items"]
            if answer["next"] >= answer["end"]:
                break
            assert answer["next"] > position
            position = answer["next"]
        assert items == everything and len(everything) > 200


def test_it_holds_the_ranges_it_was_given_and_merges_them(fresh_var):
    published = synthetic(fresh_var / "p.db")

    def item(position):
        return {"position": position, "event_id": f"e{position}"}

    published.put(0, 10, [item(3), item(9)], (9, MARK))
    published.put(20, 30, [item(25)], (25, MARK))
    published.put(40, 50, [], None)  # no event stored there: nothing to check it by, not held
    assert published.read(10, 100, 100) is None and published.read(35, 100, 100) is None
    assert published.read(40, 100, 100) is None
    three, nine = b'{"position":3,"event_id":"e3"}', b'{"position":9,"event_id":"e9"}'
    assert published.read(0, 100, 100) == ([three, nine], 2, 10)
    published.put(10, 20, [item(15)], (15, MARK))  # joins the two
    texts, _, position = published.read(4, 100, 100)
    assert [json.loads(t)["position"] for t in texts] == [9, 15, 25] and position == 30
    assert published.read(0, 12, 100)[2] == 12  # no further than the stop asked
    assert published.read(0, 100, 2) == ([three, nine], 2, 9)


def test_other_code_finds_it_empty_and_two_codes_never_serve_each_other(fresh_var):
    path, key = fresh_var / "shared-published.db", cipher()
    old = synthetic(path, "old code", key)
    old.put(0, 5, [{"position": 2, "event_id": "old"}], (2, MARK))
    assert old.read(0, 5, 10) is not None
    new = synthetic(path, "new code", key)  # an upgraded instance on the same file
    assert new.read(0, 5, 10) is None, "what other code mapped is forgotten"
    old.put(5, 10, [{"position": 7, "event_id": "old again"}], (7, MARK))  # the old instance still running
    assert new.read(5, 10, 10) is None and old.read(0, 10, 10) is None
    new.put(0, 10, [{"position": 7, "event_id": "new"}], (7, MARK))
    assert new.read(0, 10, 10) == ([b'{"position":7,"event_id":"new"}'], 1, 10)
    old.close()
    new.close()


def test_it_is_encrypted_at_rest(app, published, fresh_var):
    events_page(app, to_integration, published, 0, 1000)
    published.close()
    raw = b"".join(p.read_bytes() for p in fresh_var.glob("demo-published.db*"))
    assert len(raw) > 10_000 and NOTE.encode() not in raw and b"tallydemo" not in raw


class Confirmed:
    """A publisher the broker confirms everything of (the relay's own tests use the real broker)."""

    def __init__(self):
        self.sent = []

    def publish_many(self, envelopes):
        self.sent += [json.loads(json.dumps(e)) for e in envelopes]


class Positions:
    def __init__(self):
        self.value = 0

    def get(self, name):
        return self.value

    def set(self, name, position):
        self.value = position


def test_the_relay_keeps_what_it_published_and_ops_events_serves_it(app, published):
    relay = NotificationRelay(app, to_integration, Confirmed(), Positions(), batch_size=37, published=published)
    while relay.run_once():
        pass
    end = app.recorder.max_notification_id()
    assert published.held() == end, "the relay kept every position it published"
    answer = events_page(app, to_integration, published, 0, 1000)
    items = plain(answer)["items"]
    assert [{k: v for k, v in i.items() if k != "position"} for i in items] == relay.publisher.sent
    assert items == plain(read_events(app, to_integration, 0, 1000))["items"] and plain(answer)["next"] == end


class PublishedDemo(Operated):
    """A service of its own store and relay, with the operators' RPCs."""
    name = "publisheddemo"
    app = EventSourced(Tallies, to_integration)

    @rpc
    def write(self, copies):
        self.app.save(*(Tally(n, c) for n, c in enumerate(copies)))


def published_by(service, container_factory, config):
    """`service` started, 360 tallies written and published by its relay: its EventSourced dependency."""
    container = container_factory(service, config)
    container.start()
    with ServiceRpcProxy(service.name, config, timeout=10) as demo:
        demo.write([1, 0, 3, 1, 2] * 60)
        wait_for(lambda: demo.ops_status()["stores"][0]["lag"] == 0, what="the relay to publish")
    return next(d for d in container.dependencies if isinstance(d, EventSourced))


def test_ops_events_over_rpc_answers_what_was_published_as_mapping_would(container_factory, config, fresh_var):
    sourced = published_by(PublishedDemo, container_factory, config)
    with ServiceRpcProxy("publisheddemo", config, timeout=10) as demo:
        end = sourced.app.recorder.max_notification_id()
        assert sourced.published.read(0, end, 1) is not None, "the relay kept what it published"
        assert demo.ops_status()["stores"][0]["kept"] == end
        for after, limit, until in ((0, 1000, None), (0, 7, None), (13, 50, 200), (299, 5, None), (end, 10, None)):
            expected = plain(read_events(sourced.app, to_integration, after, limit, None, until))
            assert demo.ops_events(after=after, limit=limit, until=until) == expected
        with pytest.raises(ServiceError) as refused:
            demo.ops_events(after=-1)
        assert refused.value.code == "VALIDATION_ERROR" and "after" in refused.value.details


class TallyDemo(PublishedDemo):
    """The same service under the name its events give as their source: what a rebuild reads (it
    believes a service's own events only)."""
    name = "tallydemo"


class OlderTallyDemo(TallyDemo):
    """tallydemo as a release before form="inline" answers a rebuild: its ops_events knows no `form`,
    and carries the signed window as a JSON string."""

    @rpc
    def ops_events(self, after=0, limit=100, event_type=None, until=None, challenge=None):
        sourced = self.operations.publisher()
        answer = events_page(sourced.app, sourced.to_integration, sourced.published, after, limit, event_type, until)
        return windows.signed_window(self.name, answer, after, limit, event_type, until, challenge)


class InlineTallyDemo(TallyDemo):
    """tallydemo as the release before form="inline-sha256": it knows form="inline" only (signed over
    the window's bytes) and refuses another naming `form`, as its validation did."""

    @rpc
    def ops_events(self, after=0, limit=100, event_type=None, until=None, challenge=None, form=None):
        if form not in (None, windows.INLINE):
            raise ValidationFailed(details={"form": ["'inline', or none."]})
        return super().ops_events(after, limit, event_type, until, challenge, form)


@pytest.mark.parametrize("service", [TallyDemo, InlineTallyDemo, OlderTallyDemo])
def test_a_rebuild_reads_signed_windows_inline_and_from_an_older_release_as_strings(service, container_factory,
                                                                                    config, fresh_var, caplog):
    sourced = published_by(service, container_factory, config)
    fetch = windows.upstream_fetcher(config, "audit", timeout=10)
    try:
        end = sourced.app.recorder.max_notification_id()
        for after, limit, until in ((0, 1000, None), (13, 50, 200), (end, 10, None)):
            expected = plain(read_events(sourced.app, to_integration, after, limit, None, until))
            assert fetch("tallydemo", after, limit, until) == expected and fetch.ask("tallydemo", after, limit, until)
        carried = fetch.ask("tallydemo", 0, 5).reply.result()
    finally:
        fetch.close()
    older = [r for r in caplog.records if "form of a release before" in r.getMessage()]
    if service is TallyDemo:  # inline, signed over the window's SHA-256
        assert isinstance(carried, windows.InlineWindow) and carried.signature["digest"] == "sha-256" and not older
    elif service is InlineTallyDemo:  # asked inline-sha256 once, refused, then inline (over the bytes): said once
        assert isinstance(carried, windows.InlineWindow) and "digest" not in carried.signature and len(older) == 1
    else:  # asked inline-sha256 once, refused (no `form` at all), then asked the way before: said once
        assert isinstance(carried, dict) and isinstance(carried["window"], str) and len(older) == 1


def test_an_operator_can_turn_it_off_and_a_wrong_value_refuses_to_start(monkeypatch, fresh_var):
    monkeypatch.setenv("EVENT_STORE", "sqlite")
    app = Tallies()
    assert isinstance(published_log("tallydemo", app, to_integration), PublishedLog)
    monkeypatch.setenv("EPORT_PUBLISHED_LOG", "off")
    assert published_log("tallydemo", app, to_integration) is None
    monkeypatch.setenv("EPORT_PUBLISHED_LOG", "yes")
    with pytest.raises(StartRefused) as refused:
        published_log("tallydemo", app, to_integration)
    assert "EPORT_PUBLISHED_LOG" in str(refused.value)
    app.close()


def test_it_says_how_many_positions_it_holds(fresh_var):
    published = synthetic(fresh_var / "p.db")
    assert published.held() == 0
    published.put(0, 10, [{"position": 3, "event_id": "a"}], (3, MARK))
    published.put(20, 25, [], (21, MARK))
    published.put(5, 12, [{"position": 11, "event_id": "b"}], (11, MARK))
    assert published.held() == 12 + 5


def test_a_store_restored_from_a_backup_is_answered_what_it_holds_not_what_was_kept(monkeypatch, fresh_var):
    """Backed up at 60 events, 100 published (and kept), restored, 40 other events stored: positions
    61 to 100 hold other events now, and what was kept for them must never be served."""
    import sqlite3

    monkeypatch.setenv("EVENT_STORE", "sqlite")
    app = Tallies()
    app.save(*(Tally(n, 1) for n in range(60)))
    store_file, backup = fresh_var / "tallydemo.db", fresh_var / "backup.db"
    with sqlite3.connect(store_file) as source, sqlite3.connect(backup) as copy:
        source.backup(copy)
    app.save(*(Tally(n, 1) for n in range(60, 100)))
    published = published_log("tallydemo", app, to_integration)
    relay = NotificationRelay(app, to_integration, Confirmed(), Positions(), batch_size=30, published=published)
    while relay.run_once():
        pass
    assert published.held() == 100
    app.close()
    published.close()
    for leftover in fresh_var.glob("tallydemo.db*"):
        leftover.unlink()
    backup.rename(store_file)
    restored = Tallies()
    restored.save(*(Tally(n, 1) for n in range(1000, 1040)))  # the same positions, other events
    published = published_log("tallydemo", restored, to_integration)
    answer = plain(events_page(restored, to_integration, published, 0, 1000))
    assert [i["payload"]["n"] for i in answer["items"]] == list(range(60)) + list(range(1000, 1040))
    assert answer == plain(read_events(restored, to_integration, 0, 1000))
    assert published.held() == 100 and published.read(0, 100, 1000)[1] == 100  # kept anew
    published.close()
    restored.close()


def test_a_damaged_or_unreadable_log_is_thrown_away_and_the_events_mapped(app, fresh_var):
    path = fresh_var / "damaged-published.db"
    path.write_bytes(b"not a database at all" * 100)
    published = PublishedLog(path, cipher(), "code", lambda position: stored_mark(app, position))
    expected = plain(read_events(app, to_integration, 0, 1000))
    assert plain(events_page(app, to_integration, published, 0, 1000)) == expected  # mapped, then kept
    assert published.held() > 0
    other_key = PublishedLog(path, cipher(), "code", lambda position: stored_mark(app, position))
    assert other_key.read(0, 10, 10) is None and other_key.held() == 0  # rows it cannot decrypt: forgotten
    assert plain(events_page(app, to_integration, other_key, 0, 1000)) == expected
    published.close()
    other_key.close()


def test_a_busy_log_answers_by_mapping_and_forgets_nothing(app, published, fresh_var):
    import sqlite3

    expected = plain(read_events(app, to_integration, 0, 1000))
    published.put(0, 5, [i for i in expected["items"] if i["position"] <= 5], (5, stored_mark(app, 5)))
    writer = sqlite3.connect(fresh_var / "demo-published.db", isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")  # another process writing it a while: readers go on (WAL), writers wait
    published._db.execute("PRAGMA busy_timeout=50")
    try:
        assert plain(events_page(app, to_integration, published, 0, 1000)) == expected  # kept nothing more
        assert published.held() == 5
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert plain(events_page(app, to_integration, published, 0, 1000)) == expected
    assert published.held() == app.recorder.max_notification_id()


@pytest.mark.parametrize("tamper", [
    # a row moved to another free position, or swapped with another (its sealed text with it)
    "UPDATE kept SET position = position + 1000"
    " WHERE position = (SELECT MIN(position) FROM kept WHERE count = 3)",
    "UPDATE kept SET sealed = (SELECT sealed FROM kept ORDER BY position LIMIT 1 OFFSET 1)"
    " WHERE position = (SELECT position FROM kept ORDER BY position LIMIT 1 OFFSET 2)",
    # a row taken out: the first, one inside, the last
    "DELETE FROM kept WHERE position = (SELECT MIN(position) FROM kept)",
    "DELETE FROM kept WHERE position = (SELECT position FROM kept ORDER BY position LIMIT 1 OFFSET 40)",
    "DELETE FROM kept WHERE position = (SELECT MAX(position) FROM kept WHERE position < 240)",
    # a neighbour's mark rewritten in clear
    "UPDATE kept SET previous = -1 - previous WHERE position = (SELECT position FROM kept ORDER BY position"
    " LIMIT 1 OFFSET 41)",
])
def test_a_row_moved_or_taken_out_is_noticed_and_the_events_mapped_again(app, published, fresh_var, tamper):
    import sqlite3

    expected = plain(read_events(app, to_integration, 0, 1000))
    end = app.recorder.max_notification_id()
    for after in range(0, end, 60):  # in the relay's way: a range after another
        upto = min(after + 60, end)
        published.put(after, upto, [i for i in expected["items"] if after < i["position"] <= upto],
                      (upto, stored_mark(app, upto)))
    assert plain(events_page(app, to_integration, published, 0, 1000)) == expected
    with sqlite3.connect(fresh_var / "demo-published.db", isolation_level=None) as other:
        other.execute(tamper)
    assert published.read(0, end, 1000) is None  # noticed: forgotten, like a damaged log
    assert published.held() == 0
    assert plain(events_page(app, to_integration, published, 0, 1000)) == expected  # mapped, and kept again

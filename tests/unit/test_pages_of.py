"""Reading a service's history in windows asked ahead (services/common/operations.py: read_events
with `until`, pages_of), on the in-memory store: every envelope once, in the log's order, whatever
the window size, however many envelopes an event makes, and with events stored while it reads."""
import pytest

from contracts.errors import ValidationFailed
from services.common import operations
from services.common.operations import pages_of, read_events
from tests.tally import Tallies, Tally, to_integration

pytestmark = pytest.mark.unit
APPLICATION = Tallies  # the `app` fixture's (tests/unit/conftest.py)


class Reply:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


def fetcher(app, asked, on_ask=None):
    """`fetch` as upstream_fetcher makes it, answered by read_events on `app`; records each ask, and
    calls `on_ask` after each answer (a write landing while the reader works)."""
    def fetch(source, after, limit, until=None):
        asked.append((after, until))
        answer = read_events(app, to_integration, after, limit, None, until)
        if on_ask:
            on_ask()
        return answer

    fetch.ask = lambda *args: Reply(fetch(*args))
    return fetch


def read_all(fetch, page, depth=3):
    return [(item["payload"]["n"], item["payload"]["copy"])
            for result in pages_of(fetch, "pagesdemo", 0, page, depth) for item in result["items"]]


@pytest.mark.parametrize("page", [1, 7, 50, 1000])
def test_every_envelope_once_in_order_whatever_the_window(app, page):
    copies = [1, 0, 3, 1, 2] * 24
    app.save(*(Tally(n, c) for n, c in enumerate(copies)))
    expected = [(n, copy) for n, c in enumerate(copies) for copy in range(c)]
    asked = []
    assert read_all(fetcher(app, asked), page) == expected
    windows = [until for _, until in asked if until is not None]
    assert windows == sorted(windows) and len(windows) == len(set(windows))


def test_a_window_of_more_envelopes_than_a_page_holds_is_read_to_its_end(app, monkeypatch):
    monkeypatch.setattr(operations, "MAX_EVENTS", 10)
    app.save(*(Tally(n, 4) for n in range(30)))  # 120 envelopes; windows of 8 events are 32 envelopes
    assert read_all(fetcher(app, []), page=8) == [(n, copy) for n in range(30) for copy in range(4)]


def test_events_stored_while_it_reads_are_left_to_the_next_pass(app):
    app.save(*(Tally(n, 1) for n in range(20)))
    later = iter(range(100, 110))

    def store_one():
        n = next(later, None)
        if n is not None:
            app.save(Tally(n, 1))

    first = read_all(fetcher(app, [], on_ask=store_one), page=5)
    assert first == [(n, 0) for n in range(20)]  # the end the first page saw
    rest = [(item["payload"]["n"]) for result in pages_of(fetcher(app, []), "pagesdemo", 20, 5)
            for item in result["items"]]
    assert rest == list(range(100, 100 + len(rest))) and len(rest) >= 1


def test_until_stops_the_read_and_rejects_nonsense(app):
    app.save(*(Tally(n, 1) for n in range(10)))
    answer = read_events(app, to_integration, after=2, limit=100, until=6)
    assert [i["position"] for i in answer["items"]] == [3, 4, 5, 6] and answer["next"] == 6
    assert read_events(app, to_integration, after=2, limit=100, until=99)["next"] == 10  # no further than the end
    with pytest.raises(ValidationFailed) as refused:
        read_events(app, to_integration, after=0, limit=10, until=-1)
    assert "until" in refused.value.details

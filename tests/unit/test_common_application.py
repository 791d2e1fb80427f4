"""The helpers every application uses (services/common/application.py): find/load, retry_on_conflict
and consume, on real event stores (the in-memory one, and SQLite where the store must fail)."""
import sqlite3
import uuid

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, OperationalError
from marshmallow import Schema, fields

from contracts import errors as e
from contracts.envelope import make_envelope
from contracts.errors import ServiceError
from contracts.identity import PASSWORD_SET
from services.common.application import CONFLICT_TRIES, ServiceApplication, retry_on_conflict

pytestmark = pytest.mark.unit


class Counter(Aggregate):
    @event("Started")
    def __init__(self, name):
        self.name = name
        self.total = 0

    @event("Added")
    def add(self, amount):
        self.total += amount


class Other(Aggregate):
    @event("Started")
    def __init__(self):
        pass


class CounterApp(ServiceApplication):
    service_name = "helpers-test"


APPLICATION = CounterApp  # the `app` fixture's (tests/unit/conftest.py)


class AmountPayload(Schema):
    counter_id = fields.String(required=True)
    amount = fields.Integer(required=True)


def envelope(payload):
    """An envelope as a consumer gets it, carrying `payload` (consume checks it, not the envelope)."""
    valid = make_envelope(PASSWORD_SET, aggregate_id=str(uuid.uuid4()), aggregate_version=1,
                          occurred_at="2026-03-01T00:00:00+00:00", payload={"user_id": "u1", "reason": "reset"})
    return dict(valid, payload=payload)


@pytest.fixture
def counter(app):
    c = Counter(name="c")
    app.save(c)
    return c


def adding(app):
    calls = []

    def effect(payload):
        calls.append(payload)
        c = app.find(payload["counter_id"], Counter)
        c.add(payload["amount"])
        return [c]

    return effect, calls


# -- find and load ---------------------------------------------------------------------------------
def test_find_answers_the_aggregate_of_that_type_only(app, counter):
    other = Other()
    app.save(other)
    assert app.find(counter.id, Counter).name == "c"
    assert app.find(str(counter.id), Counter).name == "c"
    for wrong in (str(uuid.uuid4()), "not-a-uuid", "x" * 10_000, None, 42, ["list"], str(other.id)):
        assert app.find(wrong, Counter) is None


def test_load_raises_the_domains_not_found_error(app, counter):
    assert app.load(str(counter.id), Counter, ServiceError("COUNTER_NOT_FOUND", "No such counter.")) is not None
    with pytest.raises(ServiceError) as info:
        app.load(str(uuid.uuid4()), Counter, ServiceError("COUNTER_NOT_FOUND", "No such counter."))
    assert info.value.code == "COUNTER_NOT_FOUND"


# -- retry_on_conflict -----------------------------------------------------------------------------
def test_a_conflict_loads_again_and_the_answer_comes_from_fresh_state(app, counter):
    stale = [app.find(counter.id, Counter)]
    fresher = app.find(counter.id, Counter)
    fresher.add(5)
    app.save(fresher)  # another writer, after the first attempt loaded

    def attempt():
        c = stale.pop() if stale else app.find(counter.id, Counter)
        c.add(1)
        app.save(c)
        return c.total

    assert retry_on_conflict(attempt) == 6
    assert app.find(counter.id, Counter).total == 6


def test_conflicts_that_never_end_answer_409_conflict(app):
    tries = []

    def attempt():
        tries.append(1)
        raise IntegrityError("lost again")

    with pytest.raises(ServiceError) as info:
        retry_on_conflict(attempt, tries=3, message="Busy; try again.")
    assert (info.value.code, info.value.message, len(tries)) == (e.CONFLICT, "Busy; try again.", 3)
    with pytest.raises(ServiceError) as info:
        retry_on_conflict(attempt)
    assert info.value.code == e.CONFLICT and len(tries) == 3 + CONFLICT_TRIES


def test_other_errors_are_not_retried(app):
    tries = []

    def attempt():
        tries.append(1)
        raise ServiceError(e.FORBIDDEN, "No.")

    with pytest.raises(ServiceError) as info:
        retry_on_conflict(attempt)
    assert info.value.code == e.FORBIDDEN and len(tries) == 1


# -- consume ---------------------------------------------------------------------------------------
def test_consume_applies_an_event_once(app, counter):
    effect, calls = adding(app)
    event_ = envelope({"counter_id": str(counter.id), "amount": 3})
    assert app.consume("test", event_, AmountPayload, effect) is True
    assert app.consume("test", event_, AmountPayload(), effect) is False  # a redelivery
    assert len(calls) == 1
    assert app.find(counter.id, Counter).total == 3
    assert app.is_processed("test", event_["event_id"])
    assert not app.is_processed("another consumer", event_["event_id"])


def test_consume_records_an_event_that_changes_nothing(app):
    event_ = envelope({"counter_id": "none", "amount": 3})
    assert app.consume("test", event_, AmountPayload, lambda payload: []) is False
    assert app.is_processed("test", event_["event_id"])


def test_consume_records_a_bad_payload_as_processed_without_the_effect(app, caplog):
    effect, calls = adding(app)
    event_ = envelope({"counter_id": "c", "amount": "three"})
    app.consume("test", event_, AmountPayload, effect)
    assert calls == []
    assert app.is_processed("test", event_["event_id"])
    assert "invalid payload" in caplog.text


def test_consume_runs_the_effect_again_after_a_conflict(app, counter):
    effect, calls = adding(app)
    save = app.save

    def rival_saves_first(*aggregates, **kwargs):
        if len(calls) == 1:
            rival = app.find(counter.id, Counter)
            rival.add(100)
            save(rival)
        return save(*aggregates, **kwargs)

    app.save = rival_saves_first
    assert app.consume("test", envelope({"counter_id": str(counter.id), "amount": 1}), AmountPayload, effect)
    assert len(calls) == 2
    assert app.find(counter.id, Counter).total == 101


def test_consume_lets_a_failing_database_raise_and_marks_nothing(monkeypatch, fresh_var):
    """The store fails (its table is gone): consume raises the database's error, before any effect,
    instead of reading "not processed"; once the store is back, the event is applied."""
    monkeypatch.setenv("EVENT_STORE", "sqlite")
    app = CounterApp()
    counter = Counter(name="c")
    app.save(counter)
    effect, calls = adding(app)
    db = sqlite3.connect(fresh_var / "helpers-test.db")
    db.execute("ALTER TABLE stored_events RENAME TO stored_events_away")
    db.commit()
    event_ = envelope({"counter_id": str(counter.id), "amount": 2})
    with pytest.raises(OperationalError):
        app.is_processed("test", event_["event_id"])
    with pytest.raises(OperationalError):
        app.consume("test", event_, AmountPayload, effect)
    assert calls == []
    db.execute("ALTER TABLE stored_events_away RENAME TO stored_events")
    db.commit()
    db.close()
    assert not app.is_processed("test", event_["event_id"])
    assert app.consume("test", event_, AmountPayload, effect) is True
    assert app.find(counter.id, Counter).total == 2

"""A command runs once per command id: its answer is remembered with its effect (services/common/commands.py)."""
import time

import eventlet
import pytest
from eventsourcing.domain import Aggregate, event

from contracts import errors as e
from contracts.errors import ServiceError
from services.common import commands, context
from services.common.application import ServiceApplication
from services.common.commands import SavedOutsideTheRun, UndeclaredAnswer, command

pytestmark = pytest.mark.unit


class Counter(Aggregate):
    @event("Started")
    def __init__(self):
        self.count = 0

    @event("Counted")
    def count_one(self):
        self.count += 1


class Died(BaseException):
    """The process dying between the save and the reply."""


class CounterApp(ServiceApplication):
    service_name = "counter"

    def __init__(self):
        super().__init__()
        self.counter = Counter()
        self.save(self.counter)
        self.runs = self.peer_calls = 0

    @command
    def bump(self, run, declare=True, **kwargs):
        return self._bump(run, declare, **kwargs)

    @command(answer_after=True)
    def bump_after(self, run, **kwargs):
        """Its answer follows its save (as single sign-on's, which Authlib builds after the save)."""
        return self._bump(run, False, **kwargs)

    def _bump(self, run, declare, die=False, fail_after_save=False, fail_before_save=False, unavailable=False,
              past_the_run=False):
        self.runs += 1
        if fail_before_save:
            raise ServiceError(e.CONFLICT, "refused before any change")
        counter = self.repository.get(self.counter.id)
        counter.count_one()
        answer = {"count": counter.count}
        if past_the_run:
            self.save(counter)
        elif declare:
            run.save(counter, answer=answer)
        else:
            run.save(counter)
        if die:
            raise Died()
        if fail_after_save:
            raise ServiceError(e.CONFLICT, "refused after a change")
        if unavailable and self.runs == 1:
            raise ServiceError(e.SERVICE_UNAVAILABLE, "another service is away")
        return answer

    @command
    def refuse_after_count(self, run, die=False):
        """Counts, then refuses: the refusal declared with the count (a wrong SMS code counted)."""
        self.runs += 1
        counter = self.repository.get(self.counter.id)
        counter.count_one()
        try:
            run.refuse(ServiceError(e.SMS_CODE_INVALID, "wrong, and counted"), counter)
        finally:
            if die:
                raise Died()

    @command(resumable=True)
    def two_steps(self, run, die_between=False, unavailable=False, peer_takes=0.0):
        """Counts (its first save), then asks a peer for its answer (card login: identity makes
        the session), saved after: a resumed run finds its count made and does not count again."""
        self.runs += 1
        if not run.resuming:
            counter = self.repository.get(self.counter.id)
            counter.count_one()
            run.save(counter)
        if die_between and self.runs == 1:
            raise Died()
        if unavailable and self.runs == 1:
            raise ServiceError(e.SERVICE_UNAVAILABLE, "the peer is away")
        self.peer_calls += 1
        eventlet.sleep(peer_takes)
        return {"count": self.count(), "resumed": run.resuming}

    def count(self):
        return self.repository.get(self.counter.id).count


APPLICATION = CounterApp  # the `app` fixture's (tests/unit/conftest.py)


def run(app, command_id, method="bump", **kwargs):
    """As the @rpc wrapper runs an RPC method of a worker whose request carries `command_id`."""
    context.enter({context.COMMAND_ID: command_id}, **{context.APPLICATION: app})
    try:
        assert commands.incoming() == (app, command_id)
        return commands.execute(app, command_id, method, (), kwargs, lambda: getattr(app, method)(**kwargs))
    finally:
        context.leave()


def test_the_same_command_runs_once_and_answers_the_first_answer_again(app):
    assert run(app, "key:a") == {"count": 1}
    assert run(app, "key:a") == {"count": 1}
    assert (app.runs, app.count()) == (1, 1)
    assert run(app, "key:b") == {"count": 2}


def test_the_same_id_with_other_arguments_is_refused(app):
    run(app, "key:a")
    with pytest.raises(ServiceError) as refused:
        run(app, "key:a", declare=False)
    assert refused.value.code == e.IDEMPOTENCY_KEY_REUSED
    assert app.count() == 1


@pytest.mark.parametrize("declare", [True, False])
def test_an_answer_saved_with_the_effect_survives_a_death_before_the_reply(app, declare, monkeypatch):
    monkeypatch.setattr(commands, "ANSWER_WAIT", 0.2)
    method = "bump" if declare else "bump_after"
    with pytest.raises(Died):
        run(app, "request:1", method, die=True)
    assert app.count() == 1
    if declare:  # the redelivered request finds the first answer
        assert run(app, "request:1", method, die=True) == {"count": 1}
    else:  # the answer was to follow in a second save the death prevented: never a second run
        with pytest.raises(ServiceError) as in_use:
            run(app, "request:1", method, die=True)
        assert in_use.value.code == e.IDEMPOTENCY_KEY_IN_USE
    assert (app.runs, app.count()) == (1, 1)


def test_an_answer_declared_to_follow_the_save_follows_it(app):
    assert run(app, "request:2", "bump_after") == {"count": 1}
    assert run(app, "request:2", "bump_after") == {"count": 1}
    assert app.runs == 1


@pytest.mark.parametrize("command_id", ["request:3", None])
def test_a_command_that_saves_and_forgets_its_answer_is_an_error_and_stores_nothing(app, command_id):
    with pytest.raises(UndeclaredAnswer):
        run(app, command_id, declare=False) if command_id else app.bump(declare=False)
    assert app.count() == 0


def test_a_save_past_the_run_inside_a_command_is_an_error_and_stores_nothing(app):
    with pytest.raises(SavedOutsideTheRun):
        run(app, "request:4", past_the_run=True)
    assert app.count() == 0
    assert app.bump(past_the_run=True) == {"count": 1}  # without a command id there is no record to miss


def test_the_commands_and_the_resumable_ones_are_read_from_their_marks(app):
    assert set(CounterApp.commands) == {"bump", "bump_after", "refuse_after_count", "two_steps"}
    assert CounterApp.resumable_commands == {"two_steps"}
    with pytest.raises(TypeError):  # only a command declared resumable is resumed
        assert commands.CommandRun(app).resuming is None


def test_a_refusal_after_a_change_is_remembered_one_before_any_is_not(app):
    for _ in range(2):
        with pytest.raises(ServiceError, match="after a change"):
            run(app, "key:c", fail_after_save=True)
    assert (app.runs, app.count()) == (1, 1)
    for _ in range(2):
        with pytest.raises(ServiceError, match="before any change"):
            run(app, "key:d", fail_before_save=True)
    assert app.runs == 3


def test_a_passing_failure_after_a_change_is_not_remembered(app):
    with pytest.raises(ServiceError, match="away"):
        run(app, "key:f", "bump_after", unavailable=True)
    assert run(app, "key:f", "bump_after", unavailable=True) == {"count": 2}
    assert run(app, "key:f", "bump_after", unavailable=True) == {"count": 2}
    assert app.runs == 2


def test_a_record_older_than_a_day_is_forgotten(app, monkeypatch):
    run(app, "key:e")
    later = commands.time.time() + commands.RECORD_TTL + 1
    monkeypatch.setattr(commands.time, "time", lambda: later)
    assert run(app, "key:e") == {"count": 2}
    assert run(app, "key:e") == {"count": 2}
    assert app.runs == 2


def test_without_a_command_id_nothing_is_recorded(app):
    context.enter({}, **{context.APPLICATION: app})
    try:
        assert commands.incoming() is None
        assert app.bump() == {"count": 1}
        assert commands.current(app) is None
    finally:
        context.leave()


def test_the_command_is_the_workers_own_and_never_sent_on(app):
    data = {context.COMMAND_ID: "key:own"}
    context.enter(data, **{context.APPLICATION: app})
    try:
        commands.execute(app, "key:own", "bump", (), {}, lambda: [context.own(context.COMMAND)])
        assert context.own(context.COMMAND) is None  # forgotten once the command ended
        assert data == {context.COMMAND_ID: "key:own"}  # nameko sends this dict on: nothing added
    finally:
        context.leave()
    assert context.own(context.APPLICATION) is None and context.command_id() is None


def test_a_declared_refusal_survives_a_death_before_the_reply(app, monkeypatch):
    monkeypatch.setattr(commands, "ANSWER_WAIT", 0.2)
    with pytest.raises(Died):
        run(app, "key:r", "refuse_after_count", die=True)
    for _ in range(2):  # the refusal, not 409 IN_USE, and the count made once
        with pytest.raises(ServiceError, match="counted") as refused:
            run(app, "key:r", "refuse_after_count", die=True)
        assert refused.value.code == e.SMS_CODE_INVALID
    assert (app.runs, app.count()) == (1, 1)


def test_a_resumable_command_that_died_after_its_first_save_is_taken_over_by_its_retry(app, monkeypatch):
    monkeypatch.setattr(commands, "ANSWER_WAIT", 0.2)
    with pytest.raises(Died):
        run(app, "key:t", "two_steps", die_between=True)
    assert app.count() == 1
    assert run(app, "key:t", "two_steps", die_between=True) == {"count": 1, "resumed": True}
    assert run(app, "key:t", "two_steps", die_between=True) == {"count": 1, "resumed": True}  # remembered
    assert (app.runs, app.count()) == (2, 1)
    with pytest.raises(ServiceError) as reused:
        run(app, "key:t", "two_steps")
    assert reused.value.code == e.IDEMPOTENCY_KEY_REUSED


def test_a_resumable_command_whose_peer_was_away_is_resumed_not_run_again(app, monkeypatch):
    monkeypatch.setattr(commands, "ANSWER_WAIT", 0.2)
    with pytest.raises(ServiceError, match="away"):
        run(app, "key:u", "two_steps", unavailable=True)
    assert run(app, "key:u", "two_steps", unavailable=True) == {"count": 1, "resumed": True}
    assert app.count() == 1


def test_two_repeats_at_once_of_a_resumable_command_ask_its_peer_once(app, monkeypatch):
    """The broker's redelivery and the client's retry of a command that died between its saves
    arrive together: in one process the second waits for the first (turns.py) and answers its
    answer, instead of resuming beside it and asking the peer again."""
    monkeypatch.setattr(commands, "ANSWER_WAIT", 0.1)
    args = dict(die_between=True, peer_takes=0.3)
    with pytest.raises(Died):
        run(app, "key:w", "two_steps", **args)
    pool = eventlet.GreenPool()
    repeats = [pool.spawn(run, app, "key:w", "two_steps", **args) for _ in range(2)]
    assert [r.wait() for r in repeats] == [{"count": 1, "resumed": True}] * 2
    assert (app.peer_calls, app.count(), len(commands.TURNS)) == (1, 1, 0)


def test_a_repeat_waits_its_turn_no_longer_than_the_turn_wait(app, monkeypatch):
    monkeypatch.setattr(commands, "TURN_WAIT", 0.1)
    pool = eventlet.GreenPool()
    first = pool.spawn(run, app, "key:x", "two_steps", peer_takes=0.5)
    eventlet.sleep(0.05)
    with pytest.raises(ServiceError) as busy:
        run(app, "key:x", "two_steps", peer_takes=0.5)
    assert busy.value.code == e.IDEMPOTENCY_KEY_IN_USE
    assert first.wait() == {"count": 1, "resumed": False}
    assert run(app, "key:x", "two_steps", peer_takes=0.5) == {"count": 1, "resumed": False}  # its answer
    assert (app.peer_calls, len(commands.TURNS)) == (1, 0)


def test_runs_of_other_commands_or_applications_do_not_wait_for_each_other(app):
    other = CounterApp()  # another service in this process: card's claim_admin asks enterprise's under one id
    pool = eventlet.GreenPool()
    began = time.monotonic()
    runs = [pool.spawn(run, a, k, "two_steps", peer_takes=0.3) for a, k in ((app, "k1"), (app, "k2"), (other, "k1"))]
    [r.wait() for r in runs]
    assert time.monotonic() - began < 0.6  # side by side, not one after another (0.9 s)
    assert (app.peer_calls, app.count(), other.peer_calls, other.count()) == (2, 2, 1, 1)

"""Commands that run once however often their request arrives: `@command` and its `CommandRun`.

An application method marked `@command` receives `run` after `self`, its one boundary with the
record of what it answered, and saves through it (docs/conventions.md, "Commands"):
`run.save(*aggregates, answer=...)` stores the effect and the answer in one transaction (the
answer is required: a command that saves and forgets it raises UndeclaredAnswer, nothing stored);
`run.refuse(error, *aggregates)` saves a change with the refusal, then raises it.
`@command(resumable=True)`: its answer comes from a later step that is a command of another
service (card login, an SMS code request); its first save may go without the answer, its answer
is what it returns, and a repeat finding the record unanswered after ANSWER_WAIT runs it again
with `run.resuming` true. `@command(answer_after=True)`: its answer is built after its save by
code not ours (Authlib); a death between leaves the record unanswered (a repeat: 409 IN_USE).

`@rpc` (rpc.py) hands a request carrying the gateway's command id (`context.COMMAND_ID`) to
`execute`, which begins the run once per (command id, RPC method) on the service's store, or
answers the remembered answer again (`CommandRecord`, 24 hours; other arguments under the same id:
422 IDEMPOTENCY_KEY_REUSED). Runs of one command in one process take turns (turns.py, TURN_WAIT);
a repeat in another process waits ANSWER_WAIT for its twin's answer. An error before any save is
not remembered, nor a passing one (503) after: the record is released. Without a command id, `run`
records nothing. Inside a run the application saves only through it (SavedOutsideTheRun).
"""
import functools
import json
import logging
import os
import signal
import time
from dataclasses import dataclass

import eventlet
from eventsourcing.persistence import IntegrityError

from contracts import errors as e
from contracts.errors import ServiceError

from . import context
from .outages import outages
from .command_records import CommandRecord, person_of_saved
from .digests import index_digest
from .settings import setting, var_dir
from .turns import Busy, Turns

log = logging.getLogger(__name__)

RECORD_TTL = 24 * 3600  # seconds a remembered answer is answered again
ANSWER_WAIT = 3.0  # seconds a repeat waits for the answer of its twin still running (in another process)
TURN_WAIT = 30.0  # seconds a repeat waits for its twin running in this process (a few peer deadlines)
TURNS = Turns()
UNDECLARED = object()
TRANSIENT = {e.SERVICE_UNAVAILABLE, e.SMS_DELIVERY_FAILED}  # a retry may succeed: not remembered


class UndeclaredAnswer(TypeError):
    """A command saved without its answer: only a resumable or answer_after command may."""


class SavedOutsideTheRun(RuntimeError):
    """An application saved inside a command without going through its run."""


@dataclass(frozen=True)
class Declared:
    """How a command was declared: `@command`, `@command(resumable=True)`, `@command(answer_after=True)`."""
    resumable: bool = False
    answer_after: bool = False

    @property
    def answer_may_follow(self):
        return self.resumable or self.answer_after


PLAIN = Declared()


def command(fn=None, *, resumable=False, answer_after=False):
    """Marks an application method as a command: it is called with its `run` after `self`."""
    declared = Declared(resumable, answer_after)

    def decorate(method):
        @functools.wraps(method)
        def with_run(app, *args, **kwargs):
            return method(app, _run_for(app, declared), *args, **kwargs)

        with_run.declared = declared
        return with_run

    return decorate if fn is None else decorate(fn)


def declared_commands(cls):
    """{name: Declared} of the @command methods of an application class (its mixins' too)."""
    found = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            declared = getattr(value, "declared", None)
            if isinstance(declared, Declared):
                found[name] = declared
            else:
                found.pop(name, None)  # overridden by a plain method
    return found


def _run_for(app, declared):
    """The run `execute` began for this worker's request on `app`, else one that records nothing."""
    run = current(app)
    return run if run is not None else CommandRun(app, declared)


def _keyed(text):
    return index_digest(text)


def fingerprint(method, args, kwargs):
    """Of the arguments, keyed: they may hold a password or an ID number."""
    return _keyed(json.dumps([method, list(args), kwargs], sort_keys=True, default=str, ensure_ascii=False))


def _live(record, now):
    return record is not None and not record.released and record.at + RECORD_TTL > now


class CommandRun:
    """One run of a command: what it saves goes through `save` and `refuse`, which add its record.

    The record goes with the first save, and is answered by the save that declares the answer
    (`save(..., answer=...)`, or `refuse(error, ...)`), in that save's transaction. A run without
    a command id (`key` None) records nothing. `existing`: the record of an earlier run of this id,
    expired (this run starts it again) or, when `resuming`, the live one of a run that died after
    its first save (this run takes it over)."""

    def __init__(self, app, declared=PLAIN, command_id=None, key=None, fingerprint=None, method=None,
                 existing=None, resuming=False):
        self.app, self.declared, self.command_id = app, declared, command_id
        self.key, self.fingerprint, self.method = key, fingerprint, method
        self.record_id = CommandRecord.create_id(key) if key is not None else None
        self.expired = existing is not None and not resuming
        self._resuming = resuming
        self.record = existing if resuming else None  # once saved with one of the command's saves
        self.answered = self.refused = False  # its answer saved; a refusal (`refuse`)
        self.saving = False

    @property
    def recording(self):
        """Whether this run records its command (it runs under a command id)."""
        return self.key is not None

    @property
    def resuming(self):
        """Whether this run takes over a run of its command that died after its first save."""
        if not self.declared.resumable:
            raise TypeError("only a @command(resumable=True) is resumed")
        return self._resuming

    def save(self, *aggregates, answer=UNDECLARED):
        """Save `aggregates` with the command's record; `answer`: what the RPC will answer (a
        ServiceError instance: a refusal), stored in the same transaction."""
        if answer is UNDECLARED and not self.declared.answer_may_follow:
            raise UndeclaredAnswer(f"{self.method or 'a command'} saves without its answer: "
                                   "run.save(..., answer=what_it_returns)")
        record = self._for_save(answer, aggregates) if self.recording else None
        recordings = self.write(*aggregates, *([record] if record is not None else []))
        self._saved(record, answer)
        return recordings

    def refuse(self, error, *aggregates):
        """Save what a refused command changed (a wrong code counted, a challenge spent) with the
        refusal as its remembered answer, in one transaction; then raise `error`."""
        self.save(*aggregates, answer=error)
        raise error

    def write(self, *aggregates):
        """The application's save, as this run's (SavedOutsideTheRun guards every other)."""
        self.saving = True
        try:
            return self.app.save(*aggregates)
        finally:
            self.saving = False

    def _for_save(self, answer, aggregates=()):
        """The record to save with the command's next save: new with its first, answered with the
        one that declares the answer, else None (an intermediate save of a command saving twice)."""
        declared = answer is not UNDECLARED
        if self.record is not None:
            if not declared:
                return None
            record = self.app.repository.get(self.record_id)
            person = person_of_saved(aggregates) or getattr(record, "person", None)
            record.record_answer(**_outcome(answer), person=person)
            return record
        fields = dict(fingerprint=self.fingerprint, at=time.time(), answered=declared,
                      person=person_of_saved(aggregates),
                      **(_outcome(answer) if declared else {}))
        if self.expired:
            record = self.app.repository.get(self.record_id)
            record.restart(**fields)
            return record
        return CommandRecord(key=self.key, **fields)

    def _saved(self, record, answer):
        if record is None:
            return
        first = self.record is None
        self.record = record
        self.answered = answer is not UNDECLARED
        self.refused = isinstance(answer, ServiceError)
        if first:
            _crash_point("EPORT_CRASH_AFTER_SAVE", self.method, "after its first save")


def _outcome(answer):
    """The record's fields of a declared answer: a ServiceError instance is a declared refusal."""
    if isinstance(answer, ServiceError):
        return {"answer": None, "error": {"code": answer.code, "message": answer.message, "details": answer.details}}
    return {"answer": answer, "error": None}


def current(app):
    """The run `execute` began on `app` in this worker, or None."""
    run = context.own(context.COMMAND)
    return run if run is not None and run.app is app else None


def incoming():
    """(application, command id) of this worker's request, or None (no command id, or no
    event-sourced application serving it)."""
    app, command_id = context.own(context.APPLICATION), context.command_id()
    return (app, command_id) if app is not None and command_id else None


def _settled(app, record, fp):
    """The record once its twin (a run still going) answered it, or after ANSWER_WAIT unanswered."""
    if record.fingerprint != fp:
        raise ServiceError(e.IDEMPOTENCY_KEY_REUSED,
                           "This Idempotency-Key was used with another request body.")
    deadline = time.monotonic() + ANSWER_WAIT
    while not record.answered and time.monotonic() < deadline:  # its twin is still running
        eventlet.sleep(0.05)
        record = app.repository.get(record.id)
    return record


def _replay(app, record, fp):
    record = _settled(app, record, fp)
    if not record.answered:
        raise _in_use()
    return _answer_of(record)


def _in_use():
    return ServiceError(e.IDEMPOTENCY_KEY_IN_USE, "A request with this Idempotency-Key is still being processed; "
                                                  "try again.")


def _answer_of(record):
    if record.error is not None:
        raise ServiceError(record.error["code"], record.error["message"], record.error.get("details"))
    return record.answer


def _begin(app, command_id, key, fp, method):
    """The CommandRun to run, or the remembered answer (returned, or raised) as `(None, answer)`."""
    declared = app.commands.get(method, PLAIN)
    existing = app.find(CommandRecord.create_id(key), CommandRecord)
    if not _live(existing, time.time()):
        return CommandRun(app, declared, command_id, key, fp, method, existing), None
    if not declared.resumable:
        return None, _replay(app, existing, fp)
    existing = _settled(app, existing, fp)
    if existing.answered:
        return None, _answer_of(existing)
    log.warning("resuming %s: its first run saved and gave no answer", method)
    return CommandRun(app, declared, command_id, key, fp, method, existing, resuming=True), None


def execute(app, command_id, method, args, kwargs, body):
    """`body()` once per (command_id, method) on this service's store; the remembered answer after.
    Runs of one command in this process take turns (turns.py): a repeat waits for its twin here."""
    key = _keyed(f"{command_id}:{method}")
    fp = fingerprint(method, args, kwargs)
    try:  # per application: card's claim_admin asks enterprise's claim_admin under the same id
        with TURNS.of((id(app), key), TURN_WAIT):
            return _execute(app, command_id, key, fp, method, body)
    except Busy:
        raise _in_use() from None


def _execute(app, command_id, key, fp, method, body):
    run, remembered = _begin(app, command_id, key, fp, method)
    if run is None:
        return remembered
    context.hold(context.COMMAND, run)
    try:
        result = body()
    except ServiceError as exc:
        return _refused(run, exc)
    except outages():  # the store or the broker away: a retry may succeed, so nothing is remembered
        _released_in_outage(run)
        raise
    finally:
        context.hold(context.COMMAND, None)
    if run.record is not None and not run.answered:  # a resumable or answer_after command's answer
        _answer(run, answer=result)
    if run.record is not None:
        _crash_point("EPORT_CRASH_AFTER_COMMAND", method, "before the reply")
    return result


def _refused(run, exc):
    """After `exc` ended the run: raise it, remembered when the command had changed something, or
    answer the twin's answer (a twin that ran at the same moment may have won the save)."""
    app = run.app
    if run.record is not None and exc.code in TRANSIENT:
        if not run.declared.resumable:  # a resumable one stays unanswered: the retry takes it over
            _release(run)
        raise exc
    if run.record is not None:
        if run.declared.resumable and run.resuming and not run.answered:
            record = app.repository.get(run.record_id)
            if record.answered and record.error is None:  # a twin of this resumed run answered first
                return record.answer
        if not run.refused:  # it changed something before refusing: remember the refusal
            _answer(run, error={"code": exc.code, "message": exc.message, "details": exc.details})
        raise exc
    twin = app.find(run.record_id, CommandRecord)
    if _live(twin, time.time()):
        return _replay(app, twin, run.fingerprint)
    raise exc


def _released_in_outage(run):
    if run.record is None or run.declared.resumable:
        return
    try:
        _release(run)
    except outages():
        log.warning("command record %s stays unanswered: the store is away", run.record_id)


def _crash_point(name, method, moment):
    """For the fault tests (tests/fault): the setting `name` (EPORT_CRASH_AFTER_COMMAND: after the
    command and its record are saved, before the reply; EPORT_CRASH_AFTER_SAVE: right after the
    command's first save) names RPC methods, comma-separated; the process is killed there, once
    per method: the restarted process answers."""
    if method is None or method not in (setting(name) or "").split(","):
        return
    try:
        os.close(os.open(var_dir() / f"crashed-{name}-{method}", os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return
    log.warning("%s=%s: killing this process %s", name, method, moment)
    os.kill(os.getpid(), signal.SIGKILL)


def _answer(run, answer=None, error=None):
    _change_record(run, lambda record: record.record_answer(answer=answer, error=error))


def _release(run):
    _change_record(run, lambda record: record.release())


def _change_record(run, change):
    record = run.app.repository.get(run.record_id)
    change(record)
    try:
        run.write(record)
    except IntegrityError:  # cannot happen but for a clash of ids: the effect stands, say so
        log.error("command record %s not updated", run.record_id)

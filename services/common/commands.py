"""Commands that run once however often their request arrives.

The gateway gives every state-changing request a command id (`context.COMMAND_ID` in the RPC
context data): from the caller's Idempotency-Key when there is one, else made afresh for the
request. An owning service remembers, under that id, what the command answered, in a
`CommandRecord` of its own encrypted event store, saved with the command's effects:
- the record goes with the command's first save (ServiceApplication.save adds it), and its answer
  with the save that declares it: `self.save(..., answer=what_the_rpc_returns)`, or for a refusal
  after a change (a wrong SMS code counted) `self.refuse(error, ...)`. A command that saves once and
  declares its answer there (every command but card login) stores effect and answer in one
  transaction: a death at any moment leaves either nothing (the retry runs it afresh) or both (the
  redelivered RPC request, or the client's retry with the same key, gets the first answer again);
- an answer not declared follows in a second save (logged as a warning: a death before it would
  leave the record unanswered, and a repeat waits ANSWER_WAIT for it, then 409 IDEMPOTENCY_KEY_IN_USE);
- a command whose answer comes from a later step that is itself a command of another service (card
  login: it spends the challenge, then identity makes the session; an SMS code request: it saves
  the code's digest, then hands the code to notify) is declared resumable
  (`resumable_commands` of its application): a repeat finding its record unanswered after
  ANSWER_WAIT runs it again, which finds its first save done (`ServiceApplication.resuming()`), and
  the later step, asked under the same command id, answers what it answered (or runs now);
- runs of one command in one process take turns (turns.py): a repeat arriving while its twin runs
  here (the broker's redelivery beside the client's retry) waits for it and answers its answer,
  so a resumable command is not resumed twice at once;
- a command that stores nothing records nothing (nothing to protect; asking again is harmless);
- an error before any save is not remembered: the command did nothing, a retry runs it afresh; nor
  a passing one (503) after a save: the record is released and the retry runs it again.
The same id with other arguments is 422 IDEMPOTENCY_KEY_REUSED. Records live 24 hours.
"""
import hashlib
import hmac
import json
import logging
import os
import signal
import time
import uuid

import eventlet
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from contracts import errors as e
from contracts.errors import ServiceError

from . import context
from .outages import OUTAGES
from .settings import secret, setting, var_dir
from .turns import Busy, Turns

log = logging.getLogger(__name__)

RECORD_TTL = 24 * 3600  # seconds a remembered answer is answered again
ANSWER_WAIT = 3.0  # seconds a repeat waits for the answer of its twin still running (in another process)
TURN_WAIT = 30.0  # seconds a repeat waits for its twin running in this process (a few peer deadlines)
TURNS = Turns()
NAMESPACE = uuid.UUID("a3c5e1f2-5b0d-4d8e-9c61-2f7b8e4d1a93")
UNDECLARED = object()
TRANSIENT = {e.SERVICE_UNAVAILABLE, e.SMS_DELIVERY_FAILED}  # a retry may succeed: not remembered


class CommandRecord(Aggregate):
    """What one command (id, RPC method) answered: `answer`, or `error` {code, message, details}."""

    @event("Started")
    def __init__(self, key: str, fingerprint: str, at: float, answered: bool = False, answer=None, error=None):
        self._begin(fingerprint, at, answered, answer, error)

    @event("Restarted")  # the same id again after RECORD_TTL: a new command
    def restart(self, fingerprint: str, at: float, answered: bool = False, answer=None, error=None):
        self._begin(fingerprint, at, answered, answer, error)

    def _begin(self, fingerprint, at, answered, answer, error):
        self.fingerprint, self.at, self.answered, self.answer, self.error = fingerprint, at, answered, answer, error
        self.released = False

    @event("Answered")
    def record_answer(self, answer=None, error=None):
        self.answered, self.answer, self.error = True, answer, error

    @event("Released")  # it failed for a passing reason (a 503): the next try runs it again
    def release(self):
        self.released = True

    @staticmethod
    def create_id(key: str):
        return uuid.uuid5(NAMESPACE, key)


def _keyed(text):
    return hmac.new(secret("EPORT_INDEX_KEY").encode(), text.encode(), hashlib.sha256).hexdigest()


def fingerprint(method, args, kwargs):
    """Of the arguments, keyed: they may hold a password or an ID number."""
    return _keyed(json.dumps([method, list(args), kwargs], sort_keys=True, default=str, ensure_ascii=False))


def _live(record, now):
    return record is not None and not record.released and record.at + RECORD_TTL > now


class Command:
    """One run of a command in one worker: what ServiceApplication.save adds to the command's saves.

    The record goes with the first save, and is answered by the save that declares the answer
    (`save(..., answer=...)`, or a refusal: `refuse(error, ...)`), in that save's transaction.
    `existing`: the record of an earlier run of this id, expired (this run starts it again) or, when
    `resuming`, the live one of a run that died after its first save (this run takes it over)."""

    def __init__(self, app, key, fingerprint, method, existing=None, resuming=False):
        self.app, self.key, self.fingerprint, self.method = app, key, fingerprint, method
        self.record_id = CommandRecord.create_id(key)
        self.expired = existing is not None and not resuming
        self.resuming = resuming
        self.record = existing if resuming else None  # once saved with one of the command's saves
        self.answered = self.refused = False  # its answer saved; a refusal (`refuse`)

    def for_save(self, answer):
        """The record to save with the command's next save: new with its first, answered with the
        one that declares the answer, else None (an intermediate save of a command saving twice)."""
        declared = answer is not UNDECLARED
        if self.record is not None:
            if not declared:
                return None
            record = self.app.repository.get(self.record_id)
            record.record_answer(**_outcome(answer))
            return record
        fields = dict(fingerprint=self.fingerprint, at=time.time(), answered=declared,
                      **(_outcome(answer) if declared else {}))
        if self.expired:
            record = self.app.repository.get(self.record_id)
            record.restart(**fields)
            return record
        return CommandRecord(key=self.key, **fields)

    def saved(self, record, answer):
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
    """The command running on `app` in this worker, or None."""
    command = context.own(context.COMMAND)
    return command if command is not None and command.app is app else None


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


def _command(app, key, fp, method):
    """The Command to run, or the remembered answer (returned, or raised) as `(None, answer)`."""
    existing = app.find(CommandRecord.create_id(key), CommandRecord)
    if not _live(existing, time.time()):
        return Command(app, key, fp, method, existing), None
    if method not in app.resumable_commands:
        return None, _replay(app, existing, fp)
    existing = _settled(app, existing, fp)
    if existing.answered:
        return None, _answer_of(existing)
    log.warning("resuming %s: its first run saved and gave no answer", method)
    return Command(app, key, fp, method, existing, resuming=True), None


def execute(app, command_id, method, args, kwargs, run):
    """`run()` once per (command_id, method) on this service's store; the remembered answer after.
    Runs of one command in this process take turns (turns.py): a repeat waits for its twin here."""
    key = _keyed(f"{command_id}:{method}")
    fp = fingerprint(method, args, kwargs)
    try:  # per application: card's claim_admin asks enterprise's claim_admin under the same id
        with TURNS.of((id(app), key), TURN_WAIT):
            return _execute(app, key, fp, method, run)
    except Busy:
        raise _in_use() from None


def _execute(app, key, fp, method, run):
    command, remembered = _command(app, key, fp, method)
    if command is None:
        return remembered
    context.hold(context.COMMAND, command)
    try:
        result = run()
    except ServiceError as exc:
        return _refused(app, command, exc)
    except OUTAGES:  # the store or the broker away: a retry may succeed, so nothing is remembered
        _released_in_outage(app, command)
        raise
    finally:
        context.hold(context.COMMAND, None)
    if command.record is not None and not command.answered:
        if method not in app.resumable_commands:
            log.warning("%s declared no answer with its save: it follows in a second save", method)
        _answer(app, command, answer=result)
    if command.record is not None:
        _crash_point("EPORT_CRASH_AFTER_COMMAND", method, "before the reply")
    return result


def _refused(app, command, exc):
    """After `exc` ended the run: raise it, remembered when the command had changed something, or
    answer the twin's answer (a twin that ran at the same moment may have won the save)."""
    resumable = command.method in app.resumable_commands
    if command.record is not None and exc.code in TRANSIENT:
        if not resumable:  # a resumable one stays unanswered: the retry takes it over
            _release(app, command)
        raise exc
    if command.record is not None:
        if command.resuming and not command.answered:
            record = app.repository.get(command.record_id)
            if record.answered and record.error is None:  # a twin of this resumed run answered first
                return record.answer
        if not command.refused:  # it changed something before refusing: remember the refusal
            _answer(app, command, error={"code": exc.code, "message": exc.message, "details": exc.details})
        raise exc
    twin = app.find(command.record_id, CommandRecord)
    if _live(twin, time.time()):
        return _replay(app, twin, command.fingerprint)
    raise exc


def _released_in_outage(app, command):
    if command.record is None or command.method in app.resumable_commands:
        return
    try:
        _release(app, command)
    except OUTAGES:
        log.warning("command record %s stays unanswered: the store is away", command.record_id)


def _crash_point(name, method, moment):
    """For the fault tests (tests/fault): the setting `name` (EPORT_CRASH_AFTER_COMMAND: after the
    command and its record are saved, before the reply; EPORT_CRASH_AFTER_SAVE: right after the
    command's first save) names RPC methods, comma-separated; the process is killed there, once
    per method: the restarted process answers."""
    if method not in (setting(name) or "").split(","):
        return
    try:
        os.close(os.open(var_dir() / f"crashed-{name}-{method}", os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return
    log.warning("%s=%s: killing this process %s", name, method, moment)
    os.kill(os.getpid(), signal.SIGKILL)


def _answer(app, command, answer=None, error=None):
    _change_record(app, command, lambda record: record.record_answer(answer=answer, error=error))


def _release(app, command):
    _change_record(app, command, lambda record: record.release())


def _change_record(app, command, change):
    record = app.repository.get(command.record_id)
    change(record)
    try:
        app.save(record)
    except IntegrityError:  # cannot happen but for a clash of ids: the effect stands, say so
        log.error("command record %s not updated", command.record_id)

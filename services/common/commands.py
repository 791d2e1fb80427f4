"""Commands that run once however often their request arrives.

The gateway gives every state-changing request a command id (`context.COMMAND_ID` in the RPC
context data): from the caller's Idempotency-Key when there is one, else made afresh for the request. An
owning service remembers, under that id, what the command answered, in a `CommandRecord` of its own
encrypted event store:
- the record is saved in the same transaction as the command's first save (ServiceApplication.save
  adds it), so a crash after the save and before the reply cannot lose it: the redelivered RPC
  request, or the client's retry with the same key, finds it and gets the first answer again;
- a command that declares its answer before saving (`self.save(..., answer=...)`) has it stored in
  that same transaction; otherwise the answer follows in a second save, and a redelivery finding a
  record without one waits for it a moment (another worker may still be running the command);
- a command that stores nothing records nothing (nothing to protect; asking again is harmless);
- an error raised after the command saved something (a wrong SMS code counted) is remembered too;
  an error before any save is not: the command did nothing, a retry runs it afresh.
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

log = logging.getLogger(__name__)

RECORD_TTL = 24 * 3600  # seconds a remembered answer is answered again
ANSWER_WAIT = 3.0  # seconds a repeat waits for the answer of its twin still running
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
    """One run of a command in one worker: what ServiceApplication.save adds to the first save."""

    def __init__(self, app, key, fingerprint, expired):
        self.app, self.key, self.fingerprint = app, key, fingerprint
        self.record_id = CommandRecord.create_id(key)
        self.expired = expired  # a record of this id older than RECORD_TTL exists
        self.record = None  # once saved with the command's first save
        self.answered = False

    def for_save(self, answer):
        """The record to save with the command's next save (None once it went with one)."""
        if self.record is not None:
            return None
        now = time.time()
        declared = answer is not UNDECLARED
        fields = dict(fingerprint=self.fingerprint, at=now, answered=declared,
                      answer=answer if declared else None)
        if self.expired:
            record = self.app.repository.get(self.record_id)
            record.restart(**fields)
            return record
        return CommandRecord(key=self.key, **fields)

    def saved(self, record, answer):
        if record is not None:
            self.record = record
            self.answered = answer is not UNDECLARED


def current(app):
    """The command running on `app` in this worker, or None."""
    command = context.own(context.COMMAND)
    return command if command is not None and command.app is app else None


def incoming():
    """(application, command id) of this worker's request, or None (no command id, or no
    event-sourced application serving it)."""
    app, command_id = context.own(context.APPLICATION), context.command_id()
    return (app, command_id) if app is not None and command_id else None


def _replay(app, record, fp):
    if record.fingerprint != fp:
        raise ServiceError(e.IDEMPOTENCY_KEY_REUSED,
                           "This Idempotency-Key was used with another request body.")
    deadline = time.monotonic() + ANSWER_WAIT
    while not record.answered and time.monotonic() < deadline:  # its twin is still running
        eventlet.sleep(0.05)
        record = app.repository.get(record.id)
    if not record.answered:
        raise ServiceError(e.IDEMPOTENCY_KEY_IN_USE,
                           "A request with this Idempotency-Key is still being processed; try again.")
    if record.error is not None:
        raise ServiceError(record.error["code"], record.error["message"], record.error.get("details"))
    return record.answer


def execute(app, command_id, method, args, kwargs, run):
    """`run()` once per (command_id, method) on this service's store; the remembered answer after."""
    key = _keyed(f"{command_id}:{method}")
    record_id = CommandRecord.create_id(key)
    fp = fingerprint(method, args, kwargs)
    existing = app.find(record_id, CommandRecord)
    if _live(existing, time.time()):
        return _replay(app, existing, fp)
    command = Command(app, key, fp, expired=existing is not None)
    context.hold(context.COMMAND, command)
    try:
        result = run()
    except ServiceError as exc:
        if command.record is not None and exc.code in TRANSIENT:
            _release(app, command)
            raise
        if command.record is not None:  # it changed something before refusing: remember the refusal
            _answer(app, command, error={"code": exc.code, "message": exc.message, "details": exc.details})
            raise
        twin = app.find(record_id, CommandRecord)  # a twin that ran at the same moment may have won the save
        if _live(twin, time.time()):
            return _replay(app, twin, fp)
        raise
    except OUTAGES:  # the store or the broker away: a retry may succeed, so nothing is remembered
        if command.record is not None:
            try:
                _release(app, command)
            except OUTAGES:
                log.warning("command record %s stays unanswered: the store is away", record_id)
        raise
    finally:
        context.hold(context.COMMAND, None)
    if command.record is not None and not command.answered:
        _answer(app, command, answer=result)
    if command.record is not None:
        _crash_point(method)
    return result


def _crash_point(method):
    """For the fault tests (tests/fault): EPORT_CRASH_AFTER_COMMAND=<rpc method> kills this process
    once, after the command and its record are saved and before the reply goes out."""
    if setting("EPORT_CRASH_AFTER_COMMAND") != method:
        return
    try:
        os.close(os.open(var_dir() / f"crashed-after-{method}", os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    except FileExistsError:  # once: the restarted process answers
        return
    log.warning("EPORT_CRASH_AFTER_COMMAND=%s: killing this process before the reply", method)
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

"""The record of one command (services/common/commands.py): what it answered, remembered a day, and
whose that answer is: it is sealed with that person's key (docs/PERSONAL_DATA.md)."""
import uuid

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import register_topic

from .sealing import OWNER, PersonalData, person_of

NAMESPACE = uuid.UUID("a3c5e1f2-5b0d-4d8e-9c61-2f7b8e4d1a93")


class CommandRecord(PersonalData, Aggregate):
    """What one command (id, RPC method) answered: `answer`, or `error` {code, message, details}.
    `person`: whose the answer is, the person of the first personal aggregate the command saved
    (its acting user, a card's subject): the answer and error are sealed with that person's key,
    so erasure shreds them (docs/PERSONAL_DATA.md); a command that saved nothing personal has none."""
    personal_owner = "person"
    personal_owner_optional = True
    personal_events = {name: {"answer": OWNER, "error": OWNER} for name in ("Started", "Restarted", "Answered")}

    @event("Started")
    def __init__(self, key: str, fingerprint: str, at: float, answered: bool = False, answer=None, error=None,
                 person=None):
        self._begin(fingerprint, at, answered, answer, error, person)

    @event("Restarted")  # the same id again after RECORD_TTL: a new command
    def restart(self, fingerprint: str, at: float, answered: bool = False, answer=None, error=None, person=None):
        self._begin(fingerprint, at, answered, answer, error, person)

    def _begin(self, fingerprint, at, answered, answer, error, person):
        self.fingerprint, self.at, self.answered, self.answer, self.error = fingerprint, at, answered, answer, error
        self.person = person
        self.released = False

    @event("Answered")
    def record_answer(self, answer=None, error=None, person=None):
        self.answered, self.answer, self.error = True, answer, error
        self.person = person or getattr(self, "person", None)

    @event("Released")  # it failed for a passing reason (a 503): the next try runs it again
    def release(self):
        self.released = True

    @staticmethod
    def create_id(key: str):
        return uuid.uuid5(NAMESPACE, key)


def person_of_saved(aggregates):
    """Whose the answer of a command saving `aggregates` is (CommandRecord.person), or None."""
    return next(filter(None, map(person_of, aggregates)), None)


OLD_MODULE = "services.common.commands"  # where the class was: its stored events name it there
register_topic(f"{OLD_MODULE}:CommandRecord", CommandRecord)
for _name in ("Started", "Restarted", "Answered", "Released"):
    register_topic(f"{OLD_MODULE}:CommandRecord.{_name}", getattr(CommandRecord, _name))

"""A command's remembered answer (CommandRecord, services/common/commands.py) is sealed with the key of
the person whose aggregate the command saved: an answer naming a card or a name is shredded by erasure
(issue 24: card bind's answer kept the card number in clear in card's store)."""
import json
import uuid

import pytest
from eventsourcing.domain import Aggregate, event

from services.common import commands, context
from services.common.application import ServiceApplication
from services.common.bootstrap import person_keys
from services.common.commands import CommandRecord, command
from services.common.sealing import BY, ERASED, OWNER, PersonalData

pytestmark = pytest.mark.unit


@pytest.fixture
def on_disk(monkeypatch, fresh_var):
    monkeypatch.setenv("EVENT_STORE", "sqlite")
    return fresh_var


class Card(PersonalData, Aggregate):
    personal_events = {"Bound": {"card_no": OWNER}}

    @event("Bound")
    def __init__(self, user_id, card_no):
        self.user_id, self.card_no = user_id, card_no


class Tally(Aggregate):
    @event("Started")
    def __init__(self):
        self.count = 0


class Binding(ServiceApplication):
    service_name = "command-sealing-test"

    @command
    def bind(self, run, user_id, card_no):
        answer = {"card_no": card_no}
        run.save(Card(user_id=user_id, card_no=card_no), answer=answer)
        return answer

    @command
    def tally(self, run, note):
        run.save(Tally(), answer={"note": note})
        return {"note": note}


def run(app, command_id, method, **kwargs):
    context.enter({context.COMMAND_ID: command_id}, **{context.APPLICATION: app})
    try:
        return commands.execute(app, command_id, method, (), kwargs, lambda: getattr(app, method)(**kwargs))
    finally:
        context.leave()


def record_states(app):
    """The stored CommandRecord events as the store key alone opens them."""
    mapper = app.mapper
    return [json.loads(mapper.compressor.decompress(mapper.cipher.decrypt(n.state)))
            for n in app.recorder.select_notifications(start=1, limit=1000) if "CommandRecord" in n.topic]


def test_an_answer_is_sealed_with_the_key_of_the_person_the_command_saved_for_and_shredded_with_it(on_disk):
    app, user_id, card_no = Binding(), str(uuid.uuid4()), "9" + uuid.uuid4().hex[:15]
    command_id = str(uuid.uuid4())
    assert run(app, command_id, "bind", user_id=user_id, card_no=card_no) == {"card_no": card_no}
    (state,) = record_states(app)
    assert card_no not in json.dumps(state) and state["answer"][BY] == user_id
    assert run(Binding(), command_id, "bind", user_id=user_id, card_no=card_no) == {"card_no": card_no}
    person_keys("command-sealing-test").destroy(user_id)
    again = Binding()
    record = again.find(CommandRecord.create_id(commands._keyed(f"{command_id}:bind")), CommandRecord)
    assert record.answer == ERASED and record.person == user_id


def test_an_answer_of_a_command_that_saved_nothing_personal_is_kept_as_it_is(on_disk):
    app, command_id = Binding(), str(uuid.uuid4())
    assert run(app, command_id, "tally", note="n1") == {"note": "n1"}
    (state,) = record_states(app)
    assert state["answer"] == {"note": "n1"} and state["person"] is None
    assert run(Binding(), command_id, "tally", note="n1") == {"note": "n1"}

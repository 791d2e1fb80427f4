"""Per-person sealing in the Mapper (services/common/sealing.py): personal fields of events and snapshots
are sealed with their person's key inside the store cipher, opened before upcasters, read as ERASED once
the key is destroyed; stores written before sealing still read."""
import json
import uuid

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import MapperDeserialisationError

from services.common.application import ServiceApplication
from services.common.bootstrap import person_keys
from services.common.correlation import CorrelatingMapper
from services.common.sealing import BY, ERASED, OWNER, PersonalData
from services.identity.application import IdentityApplication
from services.identity.domain import User
from tests.identity_support import CHEAP, code_of
from tests.factories import new_id_number, new_mobile
from tests.support import Clock

pytestmark = pytest.mark.unit


@pytest.fixture
def on_disk(monkeypatch, fresh_var):
    monkeypatch.setenv("EVENT_STORE", "sqlite")
    return fresh_var


def identity():
    return IdentityApplication(clock=Clock(now=1_800_000_000.0), passwords=CHEAP)


def register(app, name="张三"):
    mobile, id_number = new_mobile(), new_id_number()
    user_id = app.register(name, None, id_number, mobile, code_of(app, mobile, "register"))["user_id"]
    return user_id, mobile, id_number


def opened(app, stored):
    """A stored event's state as the store cipher alone opens it (what the store key reveals)."""
    return app.mapper.compressor.decompress(app.mapper.cipher.decrypt(stored.state)).decode()


def stored_texts(app):
    return "\n".join(opened(app, n) for n in app.recorder.select_notifications(start=1, limit=10_000))


def test_personal_fields_are_not_in_the_store_under_the_store_key_alone(on_disk):
    app = identity()
    user_id, mobile, id_number = register(app, "欧阳娜娜")
    texts = stored_texts(app)
    assert "User.Registered" in "\n".join(n.topic for n in app.recorder.select_notifications(start=1, limit=100))
    for value in ("欧阳娜娜", json.dumps("欧阳娜娜")[1:-1], mobile, id_number):
        assert value not in texts
    assert BY in texts  # sealed, not dropped
    user = app.find(user_id, User)
    assert (user.name, user.mobile, user.id_number) == ("欧阳娜娜", mobile, id_number)


def test_a_destroyed_key_reads_as_erased_and_the_neighbour_still_reads(on_disk):
    app = identity()
    erased, _, _ = register(app, "王五")
    neighbour, mobile, _ = register(app, "赵六")
    keys = person_keys("identity")
    keys.destroy(erased)
    keys.forget(erased)
    fresh = identity()  # a restarted instance: nothing cached
    user = fresh.find(erased, User)
    assert (user.name, user.mobile, user.id_number) == (ERASED, ERASED, ERASED)
    assert user.registered_at is not None  # ids, times and the rest stay
    assert fresh.find(neighbour, User).mobile == mobile
    replayed = [fresh.mapper.to_domain_event(n) for n in fresh.recorder.select_notifications(start=1, limit=1000)]
    names = [e.name for e in replayed if isinstance(e, User.Registered)]  # a replay reads every event
    assert names == [ERASED, "赵六"]


def test_snapshots_are_sealed_and_open_to_erased_too(on_disk):
    app = identity()
    user_id, mobile, _ = register(app, "孙七")
    app.take_snapshot(uuid.UUID(user_id))
    (snapshot,) = app.snapshots.recorder.select_events(uuid.UUID(user_id), desc=True, limit=1)
    text = opened(app, snapshot)
    assert mobile not in text and "孙七" not in text and BY in text
    assert identity().find(user_id, User).mobile == mobile  # read from the snapshot
    person_keys("identity").destroy(user_id)
    assert identity().find(user_id, User).name == ERASED


def test_a_store_written_before_sealing_still_reads(on_disk):
    class Before(IdentityApplication):  # the old code path: the Mapper that sealed nothing
        def construct_mapper(self):
            return self.factory.mapper(transcoder=self.construct_transcoder(), mapper_class=CorrelatingMapper)

    old = Before(clock=Clock(now=1_800_000_000.0), passwords=CHEAP)
    user_id, mobile, id_number = register(old, "周八")
    assert mobile in stored_texts(old)  # in clear under the store cipher, as before
    old.close()
    app = identity()
    user = app.find(user_id, User)
    assert (user.name, user.mobile, user.id_number) == ("周八", mobile, id_number)
    app.request_sms_code(mobile, "login", None)  # the same store goes on, sealing what it adds
    assert app.find(user_id, User).name == "周八"


# -- the mechanism, on aggregates of the test's own ------------------------------------------------
class Handover(PersonalData, Aggregate):
    personal_events = {"Started": {"name": OWNER},
                       "Handed": {"from_name": "from_user_id", "to_name": "to_user_id"}}

    @event("Started")
    def __init__(self, user_id, name):
        self.user_id, self.name = user_id, name

    @event("Handed")
    def hand(self, from_user_id, from_name, to_user_id, to_name):
        self.user_id, self.name = to_user_id, to_name


class Plain(ServiceApplication):
    service_name = "sealing-test"


def people():
    return str(uuid.uuid4()), str(uuid.uuid4())


def test_a_field_of_each_person_uses_that_persons_key(on_disk):
    app, (alice, bob) = Plain(), people()
    handover = Handover(user_id=alice, name="甲")
    handover.hand(alice, "甲", bob, "乙")
    app.save(handover)
    (_, stored) = app.recorder.select_events(handover.id)
    state = json.loads(opened(app, stored))
    assert (state["from_name"][BY], state["to_name"][BY]) == (alice, bob)
    person_keys("sealing-test").destroy(alice)
    again = Plain()
    assert again.find(handover.id, object).name == "乙"
    events = list(again.events.get(handover.id))
    assert (events[1].from_name, events[1].to_name) == (ERASED, "乙")


def test_a_sealed_value_moved_to_another_field_or_event_does_not_open(on_disk):
    app, (alice, _) = Plain(), people()
    one, two = Handover(user_id=alice, name="甲"), Handover(user_id=alice, name="丙")
    app.save(one, two)
    (first,), (second,) = app.recorder.select_events(one.id), app.recorder.select_events(two.id)
    moved = type(second)(originator_id=second.originator_id, originator_version=second.originator_version,
                         topic=second.topic, state=first.state)
    with pytest.raises(MapperDeserialisationError, match="does not open"):
        app.mapper.to_domain_event(moved)


def test_a_person_erased_before_an_event_gets_the_marker_stored_not_their_data(on_disk):
    app, (alice, _) = Plain(), people()
    person_keys("sealing-test").destroy(alice)
    late = Handover(user_id=alice, name="甲")
    app.save(late)
    (stored,) = app.recorder.select_events(late.id)
    assert "甲" not in opened(app, stored)
    assert Plain().find(late.id, object).name == ERASED


def test_a_missing_key_is_an_error_not_an_erasure(on_disk, tmp_path, monkeypatch):
    app, (alice, _) = Plain(), people()
    saved = Handover(user_id=alice, name="甲")
    app.save(saved)
    monkeypatch.setenv("EPORT_KEY_STORE", str(tmp_path / "another"))  # a key store that never held it
    with pytest.raises(MapperDeserialisationError, match="EPORT_KEY_STORE"):
        Plain().find(saved.id, object)


class Renamed(PersonalData, Aggregate):
    personal_events = {"Named": {"name": OWNER}}

    class Named(Aggregate.Created):
        user_id: str
        name: str

    @event(Named)
    def __init__(self, user_id, name):
        self.user_id, self.name = user_id, name


def test_upcasters_see_the_opened_value(on_disk, monkeypatch):
    app, (alice, _) = Plain(), people()
    saved = Renamed(user_id=alice, name="甲")
    app.save(saved)

    def upcast_v1_v2(state):
        state["name"] = state["name"] + "（已核实）"  # a str: opened before it ran

    monkeypatch.setattr(Renamed.Named, "class_version", 2, raising=False)
    monkeypatch.setattr(Renamed.Named, "upcast_v1_v2", staticmethod(upcast_v1_v2), raising=False)
    assert Plain().find(saved.id, object).name == "甲（已核实）"


def test_user_declares_its_personal_fields():
    assert set(User.Registered.personal) == {"name", "id_number", "mobile"}

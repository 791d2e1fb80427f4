"""The audit trail after a person's erasure (services/audit/store.py `pseudonymize`): every query still
answers by ids, types and times, the user id a pseudonym, [已删除] where a name, a masked number, a card
number or a session id was; events about them recorded later (a replay) and a rebuilt log alike."""
import uuid

import pytest

from contracts import asyncapi
from contracts.envelope import REGISTRY, make_envelope
from services.audit.store import AuditStore
from tests.unit.audit_envelopes import AT, CARD_NO, NAME, SESSION, envelopes

pytestmark = pytest.mark.unit
asyncapi.load_all_event_modules()
ERASED = "[已删除]"


def erased(user_id):
    return make_envelope(REGISTRY[("identity", "UserErased")], aggregate_id=user_id, aggregate_version=9,
                         occurred_at=AT, payload={"user_id": user_id, "erasure_id": str(uuid.uuid4())})


def trail(store, user_id):
    return {e["event_type"]: e for e in store.query(user_id=user_id)}


def test_the_erased_persons_entries_keep_ids_types_and_times_only(tmp_path):
    store = AuditStore(tmp_path / "audit.db")
    user_id, neighbour, enterprise_id = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    store.record_many([*envelopes(user_id, enterprise_id), *envelopes(neighbour, enterprise_id)])
    store.record(erased(user_id))
    assert store.pseudonymize(user_id) == 3
    assert store.pseudonymize(user_id) == 0  # a redelivery changes nothing
    mine = trail(store, user_id)
    assert set(mine) == {"UserRegistered", "UserLoggedIn", "CardBound", "UserErased"}
    assert mine["UserRegistered"]["payload"] == {"user_id": user_id, "name": ERASED, "id_type": "resident_id",
                                                 "id_number_masked": ERASED, "mobile_masked": ERASED}
    assert mine["UserLoggedIn"]["payload"]["session_id"] == ERASED
    assert mine["CardBound"]["payload"]["card_no"] == ERASED
    assert mine["CardBound"]["payload"]["enterprise_id"] == enterprise_id and mine["CardBound"]["occurred_at"]
    assert len(store.query(enterprise_id=enterprise_id, event_type="CardBound")) == 2  # queries by ids still answer
    theirs = trail(store, neighbour)  # the neighbour's read as they were
    assert theirs["UserRegistered"]["payload"]["name"] == NAME and theirs["CardBound"]["payload"]["card_no"] == CARD_NO


def test_an_enterprise_the_erased_person_registered_keeps_its_name(tmp_path):
    store = AuditStore(tmp_path / "audit.db")
    user_id, enterprise_id = str(uuid.uuid4()), str(uuid.uuid4())
    store.record(make_envelope(REGISTRY[("enterprise", "EnterpriseRegistered")], aggregate_id=enterprise_id,
                               aggregate_version=1, occurred_at=AT,
                               payload={"enterprise_id": enterprise_id, "uscc": "91350100M000100Y43",
                                        "name": "福建测试贸易有限公司", "certified": True, "admin_user_id": user_id}))
    store.record(erased(user_id))
    store.pseudonymize(user_id)
    [registered] = store.query(user_id=user_id, event_type="EnterpriseRegistered")
    assert registered["payload"]["name"] == "福建测试贸易有限公司"  # an enterprise's name is no person's


def test_an_event_about_an_erased_person_recorded_later_is_erased_too(tmp_path):
    store = AuditStore(tmp_path / "audit.db")
    user_id, enterprise_id = str(uuid.uuid4()), str(uuid.uuid4())
    store.record(erased(user_id))
    store.record_many(envelopes(user_id, enterprise_id))  # an operator's replay of the history
    payloads = [e["payload"] for e in store.query(user_id=user_id)]
    assert NAME not in str(payloads) and SESSION not in str(payloads) and CARD_NO not in str(payloads)


def test_a_rebuilt_log_erases_again_what_the_upstream_histories_hold(tmp_path):
    live = AuditStore(tmp_path / "audit.db")
    rebuilt = live.sibling()
    user_id, enterprise_id = str(uuid.uuid4()), str(uuid.uuid4())
    rebuilt.record_many([*envelopes(user_id, enterprise_id), erased(user_id)])
    rebuilt.finish_bulk()
    payloads = [e["payload"] for e in rebuilt.query(user_id=user_id)]
    assert NAME not in str(payloads) and CARD_NO not in str(payloads) and len(payloads) == 4

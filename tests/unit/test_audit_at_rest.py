"""The audit log keeps payloads encrypted at rest: its raw file shows ids and types, never the
names, card numbers or session ids the events carry; queries answer them in clear."""
import uuid

import pytest

from contracts import asyncapi
from services.audit.store import AuditStore
from tests.unit.audit_envelopes import CARD_NO, NAME, SESSION, envelopes

pytestmark = pytest.mark.unit
asyncapi.load_all_event_modules()

def raw_bytes(directory):
    return b"".join(path.read_bytes() for path in directory.iterdir() if path.is_file())


def test_payloads_are_encrypted_at_rest_and_read_back_in_clear(tmp_path):
    user_id, enterprise_id = str(uuid.uuid4()), str(uuid.uuid4())
    store = AuditStore(tmp_path / "audit.db")
    assert store.record_many(envelopes(user_id, enterprise_id)) == 3
    items = store.query(limit=10)
    assert {i["event_type"] for i in items} == {"UserRegistered", "UserLoggedIn", "CardBound"}
    payloads = str([i["payload"] for i in items])
    assert NAME in payloads and CARD_NO in payloads and SESSION in payloads
    assert [i["event_type"] for i in store.query(enterprise_id=enterprise_id)] == ["CardBound"]
    store.close()  # folds the WAL into the file: every byte written is in the files read below
    raw = raw_bytes(tmp_path)
    assert user_id.encode() in raw  # what the queries filter on stays in clear ...
    for secret in (NAME, CARD_NO, SESSION):  # ... what the events say does not
        assert secret.encode() not in raw and secret.encode("utf-16-le") not in raw


def test_a_log_written_before_encryption_still_reads(tmp_path):
    import json
    import sqlite3

    store = AuditStore(tmp_path / "audit.db")
    store.record_many(envelopes(str(uuid.uuid4()), str(uuid.uuid4()))[:1])
    with sqlite3.connect(tmp_path / "audit.db") as db:
        db.execute("UPDATE audit_events SET payload = ?", (json.dumps({"user_id": "u", "name": NAME}),))
    assert store.query()[0]["payload"]["name"] == NAME


def test_a_rebuilt_log_is_the_same_log_once_adopted(tmp_path):
    """The rebuild's store (`sibling`, bulk): rows appended without a key or indexes, which
    finish_bulk makes (a repeat kept once), encrypted like the live log, then queried as the live one."""
    import sqlite3

    live = AuditStore(tmp_path / "audit.db")
    user_id, enterprise_id = str(uuid.uuid4()), str(uuid.uuid4())
    events = envelopes(user_id, enterprise_id)
    fresh = live.sibling()
    assert fresh.record_many(events[:2]) == 2 and fresh.record_many(events[1:]) == 2  # a repeat while staged
    fresh.finish_bulk()
    assert fresh.record_many(events[2:]) == 0  # a repeat after: the key holds again
    with live.held():
        live.adopt(fresh)
    assert sorted(i["event_type"] for i in live.query(limit=10)) == ["CardBound", "UserLoggedIn", "UserRegistered"]
    assert [i["event_type"] for i in live.query(enterprise_id=enterprise_id)] == ["CardBound"]
    live.close()
    with sqlite3.connect(tmp_path / "audit.db") as db:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    assert {"audit_event_ids", "audit_by_enterprise", "audit_by_subject", "audit_by_seq",
            "audit_by_correlation"} <= names
    raw = raw_bytes(tmp_path)
    for secret in (NAME, CARD_NO, SESSION):
        assert secret.encode() not in raw


def test_a_log_from_before_the_unique_index_keeps_its_primary_key_and_records_once(tmp_path):
    """A log made when event_id was the table's primary key: opened by this release it gets no
    second key, records a repeat once, and a rebuild replaces it by a log of the new form."""
    import sqlite3

    from services.audit import store as audit_store

    old_tables = audit_store.TABLES.replace("event_id TEXT NOT NULL,", "event_id TEXT PRIMARY KEY,")
    assert old_tables != audit_store.TABLES
    with sqlite3.connect(tmp_path / "audit.db") as db:
        db.executescript(old_tables + audit_store.INDEXES)
    live = AuditStore(tmp_path / "audit.db")
    events = envelopes(str(uuid.uuid4()), str(uuid.uuid4()))
    assert live.record_many(events[:2]) == 2 and live.record_many(events) == 1
    indexes = {r[1]: r[3] for r in live._run("PRAGMA index_list('audit_events')")}
    assert "audit_event_ids" not in indexes and "pk" in indexes.values()
    fresh = live.sibling()
    fresh.record_many(events)
    with live.held():
        live.adopt(fresh)
    assert live.record_many(events) == 0 and len(live.query(limit=10)) == 3
    assert "audit_event_ids" in {r[1] for r in live._run("PRAGMA index_list('audit_events')")}


def test_a_payload_reads_back_as_the_value_it_was_and_one_of_the_release_before_too(tmp_path):
    """Sealed as JSON by msgspec (services/common/fastjson.py), a payload opens to the very value it was,
    integers of any size included; one sealed by the release before (the standard library's JSON,
    spaced) opens the same."""
    import base64
    import json

    from services.audit.store import ENCRYPTED, PayloadCipher
    from services.common.person_keys import PersonKeys

    cipher = PayloadCipher(key=base64.b64encode(b"k" * 16).decode(), persons=PersonKeys("audit", None, [b"K" * 32]))
    for payload in ({"b": 1, "a": "张三 \"quoted\" \\ \n\u2028", "c": None, "d": [1.5, True, {"z": {}, "y": [None]}]},
                    {"user_id": "x", "n": -0.0, "big": 10 ** 30, "small": -(2 ** 70), "e": 1e300},
                    {}):
        assert cipher.open(cipher.seal(payload, None, "e1"), "e1") == payload
        before = ENCRYPTED + base64.b64encode(cipher._aes.encrypt(
            json.dumps(payload, ensure_ascii=False, sort_keys=True).encode())).decode()
        assert cipher.open(before, "e1") == payload


def test_a_rebuilds_pages_are_appended_whole_and_in_their_order(tmp_path):
    """Bulk rows go APPEND_ROWS a statement and the rest one by one: every row, each once, seq in the
    order given, across pages of any length (here 2 whole statements and 23 over, then 27 alone)."""
    from services.audit.store import APPEND_ROWS
    from tests.unit.audit_envelopes import AT
    from contracts.envelope import REGISTRY, make_envelope

    def login(n):
        return make_envelope(REGISTRY[("identity", "UserLoggedIn")], aggregate_id=str(uuid.uuid4()),
                             aggregate_version=n, occurred_at=AT,
                             payload={"user_id": str(uuid.uuid4()), "method": "password", "session_id": f"s{n}"})

    events = [login(n) for n in range(2 * APPEND_ROWS + 23 + 27)]
    fresh = AuditStore(tmp_path / "audit.db").sibling()
    assert fresh.record_many(events[:2 * APPEND_ROWS + 23]) == 2 * APPEND_ROWS + 23
    assert fresh.record_many(events[2 * APPEND_ROWS + 23:]) == 27
    fresh.finish_bulk()
    rows = fresh._run("SELECT event_id, seq FROM audit_events ORDER BY seq").fetchall()
    assert [r[0] for r in rows] == [e["event_id"] for e in events]
    assert [r[1] for r in rows] == list(range(1, len(events) + 1))
    assert {i["payload"]["session_id"] for i in fresh.query(limit=1000)} == {f"s{n}" for n in range(len(events))}

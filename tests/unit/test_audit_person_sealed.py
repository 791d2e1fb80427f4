"""The audit log's personal payload fields are sealed with their person's key of audit's own key
store (crypto-shredding, issue 24): a copy of the log taken before an erasure, read with the store
key after the person's key is destroyed, yields none of them; queries read [已删除] there; rows
written before the per-person seal still read."""
import base64
import json
import shutil
import sqlite3
import uuid

import pytest
from cryptography.exceptions import InvalidTag

from contracts.masking import ERASED
from services.audit.store import ENCRYPTED, AuditStore, PayloadCipher
from services.common.bootstrap import person_keys
from services.common.cipher import AESCipher
from services.common.settings import secret
from eventsourcing.utils import Environment
from tests.unit.audit_envelopes import CARD_NO, NAME, SESSION, envelopes

pytestmark = pytest.mark.unit
MASKED = ("110105********002X", "133****6117")


def outer_payloads(path):
    """Every payload of the file, decrypted with the store key only (what a backup's reader has)."""
    aes = AESCipher(Environment(env={"CIPHER_KEY": secret("EPORT_CIPHER_KEY")}))
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT payload FROM audit_events").fetchall()
    return [aes.decrypt(base64.b64decode(p[len(ENCRYPTED):])).decode("utf-8") for (p,) in rows]


def test_a_copy_taken_before_the_key_is_destroyed_reads_nothing_of_the_person(tmp_path):
    user_id, neighbour, enterprise_id = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    store = AuditStore(tmp_path / "audit.db")
    store.record_many([*envelopes(user_id, enterprise_id)])
    store.close()
    for payload in outer_payloads(tmp_path / "audit.db"):  # sealed on insert, under the store key too
        for value in (NAME, CARD_NO, SESSION, *MASKED):
            assert value not in payload
    (tmp_path / "copy").mkdir()
    shutil.copy(tmp_path / "audit.db", tmp_path / "copy" / "audit.db")  # the backup, before the erasure
    copy = AuditStore(tmp_path / "copy" / "audit.db")
    assert NAME in str([i["payload"] for i in copy.query(user_id=user_id)])  # opens while the key lives
    person_keys("audit").destroy(user_id)
    items = {i["event_type"]: i["payload"] for i in copy.query(user_id=user_id)}
    assert items["UserRegistered"]["name"] == ERASED and items["UserRegistered"]["mobile_masked"] == ERASED
    assert items["CardBound"]["card_no"] == ERASED and items["UserLoggedIn"]["session_id"] == ERASED
    assert items["CardBound"]["enterprise_id"] == enterprise_id  # ids, types and times stay
    copy.record_many(envelopes(neighbour, enterprise_id))  # and the person's neighbour reads
    assert NAME in str([i["payload"] for i in copy.query(user_id=neighbour)])
    later = envelopes(user_id, enterprise_id)  # a replay after the erasure stores nothing of them
    for envelope in later:
        envelope["event_id"] = str(uuid.uuid4())
    copy.record_many(later)
    copy.close()
    assert not [p for p in outer_payloads(tmp_path / "copy" / "audit.db") if user_id in p and NAME in p]


def test_a_sealed_field_moved_to_another_entry_does_not_open(tmp_path):
    cipher, user_id = PayloadCipher(), str(uuid.uuid4())
    stored = cipher.seal({"user_id": user_id, "name": NAME}, ("identity", "UserRegistered"), "e1")
    assert cipher.open(stored, "e1")["name"] == NAME
    with pytest.raises(InvalidTag):
        cipher.open(stored, "e2")


def test_rows_written_before_the_per_person_seal_still_read(tmp_path):
    store = AuditStore(tmp_path / "audit.db")
    user_id = str(uuid.uuid4())
    store.record_many(envelopes(user_id, str(uuid.uuid4()))[:1])
    old = PayloadCipher()._aes.encrypt(json.dumps({"user_id": user_id, "name": NAME}).encode())
    with sqlite3.connect(tmp_path / "audit.db") as db:
        db.execute("UPDATE audit_events SET payload = ?", (ENCRYPTED + base64.b64encode(old).decode(),))
    assert store.query()[0]["payload"]["name"] == NAME
    assert store.pseudonymize(user_id) == 1 and store.query()[0]["payload"]["name"] == ERASED

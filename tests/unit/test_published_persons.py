"""A published log's rows that hold personal data (contracts/personal.py) are sealed with the key of
each person they name inside the store cipher (services/common/published.py): a destroyed key makes
them read as not held, so their events are mapped again, and shreds them in every copy of the file."""
import shutil
import sqlite3
import uuid

import pytest
from eventsourcing.cryptography import AESCipher as LibraryCipher
from eventsourcing.utils import Environment

from contracts.masking import ERASED, mask_id_number, mask_mobile
from contracts.personal import persons_of
from services.common.cipher import AESCipher
from services.common.person_keys import PersonKeys
from services.common.published import PublishedLog

pytestmark = pytest.mark.unit
MARK = b"mark"


@pytest.fixture
def keys(tmp_path):
    return PersonKeys("identity", tmp_path / "keys", [b"k" * 16 + b"e" * 16])


@pytest.fixture
def cipher():
    return AESCipher(Environment(env={"CIPHER_KEY": LibraryCipher.create_key(16)}))


def log(path, cipher, keys):
    return PublishedLog(path, cipher, "code", lambda position: MARK, keys=keys)


def registered(position, user_id, name):
    return {"position": position, "source": "identity", "event_type": "UserRegistered",
            "payload": {"user_id": user_id, "name": name, "mobile_masked": "133****6117"}}


def other(position):
    return {"position": position, "source": "identity", "event_type": "PasswordSet", "payload": {"user_id": "x"}}


def test_a_row_naming_a_person_is_sealed_with_their_key_inside_the_store_cipher(tmp_path, cipher, keys):
    alice = str(uuid.uuid4())
    published = log(tmp_path / "p.db", cipher, keys)
    published.put(0, 3, [registered(1, alice, "欧阳娜娜"), other(2)], (2, MARK))
    texts, count, position = published.read(0, 3, 10)
    assert "欧阳娜娜".encode() in texts[0] and (count, position) == (2, 3)
    rows = sqlite3.connect(tmp_path / "p.db").execute("SELECT position, persons, sealed FROM kept").fetchall()
    persons = {r[0]: r[1] for r in rows}
    assert persons == {1: alice, 2: ""}
    store_key_alone = [cipher.decrypt(r[2], f"eport-published:{r[0]}:1:{-1 if r[0] == 1 else 1}:"
                                            f"{2 if r[0] == 1 else -4}".encode()) for r in rows]
    assert not any("欧阳娜娜".encode() in b for b in store_key_alone)


def test_an_erased_persons_rows_read_as_not_held_in_the_file_and_in_its_copies(tmp_path, cipher, keys):
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    published = log(tmp_path / "p.db", cipher, keys)
    published.put(0, 4, [other(1), registered(2, alice, "甲"), registered(3, bob, "乙")], (3, MARK))
    published.close()
    shutil.copy(tmp_path / "p.db", tmp_path / "backup.db")  # a backup taken before the erasure
    keys.destroy(alice)
    for path in ("p.db", "backup.db"):
        again = log(tmp_path / path, cipher, keys)
        texts, count, position = again.read(0, 4, 10)
        assert (count, position) == (1, 1) and "甲".encode() not in b"".join(texts)  # mapped again from position 1
        assert again.read(1, 4, 10) is None  # the erased row first: nothing held from there
        assert "乙".encode() in again.read(2, 4, 10)[0][0]  # the neighbour still reads
        again.close()


def test_a_row_naming_two_people_is_shredded_by_either(tmp_path, cipher, keys):
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    published = log(tmp_path / "p.db", cipher, keys)
    published.put(0, 1, [registered(1, alice, "甲"), registered(1, bob, "乙")], (1, MARK))
    assert published.read(0, 1, 10)[1] == 2
    keys.destroy(bob)
    assert published.read(0, 1, 10) is None


def test_envelopes_of_an_erased_person_are_kept_again_with_the_marker(tmp_path, cipher, keys):
    alice = str(uuid.uuid4())
    keys.destroy(alice)
    published = log(tmp_path / "p.db", cipher, keys)
    published.put(0, 1, [registered(1, alice, ERASED)], (1, MARK))  # mapped from events that open to it
    assert ERASED.encode() in published.read(0, 1, 10)[0][0]


def test_persons_of_an_envelope_are_those_its_personal_fields_name():
    assert persons_of(registered(1, "u1", "甲")) == ("u1",)
    assert persons_of(other(1)) == ()
    assert persons_of({"source": "enterprise", "event_type": "AssociationRequested",
                       "payload": {"user_id": "u2", "user_name": None}}) == ()  # published without the name
    assert mask_mobile(ERASED) == ERASED and mask_id_number(ERASED) == ERASED

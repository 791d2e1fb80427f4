"""The per-person key store (services/common/person_keys.py): one key per person per service, wrapped
by EPORT_PII_KEK, destroyed for good with a tombstone, cached until forgotten; and the KEK's checks."""
import base64
import json
import secrets
import threading
import uuid

import pytest

from services.common import settings
from services.common.bootstrap import person_keys
from services.common.person_keys import KeyUnreadable, PersonErased, PersonKeys
from services.common.secret_rules import SecretRefused, check_secret

pytestmark = pytest.mark.unit


def kek():
    return secrets.token_bytes(32)


def person():
    return str(uuid.uuid4())


@pytest.fixture(params=["folder", "memory"])
def store(request, tmp_path):
    wrapping = kek()
    folder = tmp_path / "keys" if request.param == "folder" else None
    return lambda keks=(wrapping,): PersonKeys("identity", folder, list(keks))


def test_a_key_is_made_on_first_use_and_found_afterwards(store):
    keys, someone = store(), person()
    assert keys.find(someone) is None
    key = keys.key_for(someone)
    assert len(key) == 32 and keys.key_for(someone) == key and keys.find(someone) == key
    assert keys.key_for(person()) != key  # each person their own
    assert someone in keys.persons()


def test_a_discarded_key_is_gone_for_good_and_a_new_one_is_made_next(store, tmp_path):
    """A mobile's key (the SMS outbox's): no tombstone, the number comes back with a new key."""
    keys, something, neighbour = store(), "a" * 64, person()
    old, kept = keys.key_for(something), keys.key_for(neighbour)
    keys.discard(something)
    assert keys.find(something) is None and not keys.erased(something)
    assert not list(tmp_path.rglob(f"{something}.*"))  # no wrapped key, no tombstone left on disk
    new = keys.key_for(something)
    assert new != old and keys.find(something) == new and keys.find(neighbour) == kept
    keys.discard(something)
    keys.discard(something)  # again: nothing more to do


def test_keys_are_kept_on_disk_wrapped_and_read_by_a_new_process(tmp_path):
    wrapping, someone = kek(), person()
    key = PersonKeys("identity", tmp_path, [wrapping]).key_for(someone)
    wrapped = (tmp_path / "identity" / f"{someone}.key").read_bytes()
    assert key not in wrapped and len(wrapped) == 12 + 32 + 16
    assert PersonKeys("identity", tmp_path, [wrapping]).find(someone) == key  # another process, same key
    assert PersonKeys("card", tmp_path, [wrapping]).find(someone) is None  # each service its own keys


def test_a_destroyed_key_is_gone_for_good_and_never_made_again(store):
    keys, someone, neighbour = store(), person(), person()
    keys.key_for(someone)
    kept = keys.key_for(neighbour)
    keys.destroy(someone)
    assert keys.find(someone) is None and keys.erased(someone)
    with pytest.raises(PersonErased):  # a new key would not open old events, and would hide the erasure
        keys.key_for(someone)
    keys.destroy(someone)  # again: nothing more to do
    keys.forget()
    assert keys.erased(someone) and keys.find(neighbour) == kept


def test_destroying_removes_the_wrapped_key_from_disk_and_leaves_a_tombstone(tmp_path):
    wrapping, someone = kek(), person()
    PersonKeys("identity", tmp_path, [wrapping]).key_for(someone)
    PersonKeys("identity", tmp_path, [wrapping]).destroy(someone)
    assert not (tmp_path / "identity" / f"{someone}.key").exists()
    assert (tmp_path / "identity" / f"{someone}.erased").exists()
    again = PersonKeys("identity", tmp_path, [wrapping])  # a restarted process
    assert again.find(someone) is None
    with pytest.raises(PersonErased):
        again.key_for(someone)


def test_a_retired_key_is_gone_for_good_and_no_file_is_named_by_its_id(tmp_path):
    """A card index's legacy id (services/card/application.py): erased as by `destroy`, its tombstone named
    by the id's keyed digest, so the folder's names do not tell the id."""
    wrapping, legacy = kek(), person()
    PersonKeys("card", tmp_path, [wrapping]).key_for(legacy)
    PersonKeys("card", tmp_path, [wrapping]).retire(legacy)
    assert not [p.name for p in (tmp_path / "card").iterdir() if legacy in p.name]
    again = PersonKeys("card", tmp_path, [wrapping])  # a restarted process
    assert again.find(legacy) is None and again.erased(legacy)
    with pytest.raises(PersonErased):
        again.key_for(legacy)


def test_a_person_never_keyed_can_be_erased_too(store):
    keys, someone = store(), person()
    keys.destroy(someone)
    with pytest.raises(PersonErased):
        keys.key_for(someone)


def test_another_instance_uses_its_cached_key_until_told_to_forget(tmp_path):
    wrapping, someone = kek(), person()
    here, there = PersonKeys("identity", tmp_path, [wrapping]), PersonKeys("identity", tmp_path, [wrapping])
    key = here.key_for(someone)
    there.destroy(someone)
    assert here.find(someone) == key  # the cache is explicit: erasure tells every instance to forget
    here.forget(someone)
    assert here.find(someone) is None
    with pytest.raises(PersonErased):
        here.key_for(someone)


def test_the_cache_is_bounded(tmp_path):
    keys = PersonKeys("identity", tmp_path, [kek()], cache_size=3)
    people = [person() for _ in range(5)]
    made = [keys.key_for(p) for p in people]
    assert len(keys._cache) == 3
    assert [keys.find(p) for p in people] == made  # the evicted are read again from disk


def test_another_kek_opens_nothing_and_a_rotation_opens_both(tmp_path):
    old, new, someone = kek(), kek(), person()
    key = PersonKeys("identity", tmp_path, [old]).key_for(someone)
    with pytest.raises(KeyUnreadable):
        PersonKeys("identity", tmp_path, [new]).find(someone)
    rotating = PersonKeys("identity", tmp_path, [new, old])
    assert rotating.find(someone) == key
    later = person()
    rotating.key_for(later)
    assert PersonKeys("identity", tmp_path, [new]).find(later) is not None  # wrapped by the first


def test_a_wrapped_key_moved_to_another_person_does_not_open(tmp_path):
    wrapping, someone, other = kek(), person(), person()
    PersonKeys("identity", tmp_path, [wrapping]).key_for(someone)
    folder = tmp_path / "identity"
    (folder / f"{other}.key").write_bytes((folder / f"{someone}.key").read_bytes())
    with pytest.raises(KeyUnreadable):
        PersonKeys("identity", tmp_path, [wrapping]).find(other)


def test_only_person_ids_name_keys(store):
    keys = store()
    for bad in ("../../etc/passwd", "", "..", "a/b", "x" * 65, None, 42):
        with pytest.raises(ValueError):
            keys.key_for(bad)
    someone = uuid.uuid4()
    assert keys.key_for(someone) == keys.find(str(someone).upper())  # one person, however spelt


def test_two_processes_making_the_same_key_at_once_agree(tmp_path):
    wrapping, someone, got = kek(), person(), []
    stores = [PersonKeys("identity", tmp_path, [wrapping]) for _ in range(8)]
    threads = [threading.Thread(target=lambda s=s: got.append(s.key_for(someone))) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 1 and PersonKeys("identity", tmp_path, [wrapping]).find(someone) == got[0]


# -- the KEK, a secret like the others ------------------------------------------------------------
def b64(n=32):
    return base64.b64encode(secrets.token_bytes(n)).decode()


def test_the_kek_is_checked_like_every_secret():
    others = {"EPORT_CIPHER_KEY": b64(), "EPORT_INDEX_KEY": secrets.token_hex(32)}
    assert len(check_secret("EPORT_PII_KEK", {**others, "EPORT_PII_KEK": b64()})) == 32
    for value, why in ((None, "not set"), ("REPLACE-ME", "placeholder"), (b64(16), "16 bytes"),
                       ("not base64!", "not strict base64"), (base64.b64encode(b"\0" * 32).decode(), "repeat"),
                       (others["EPORT_CIPHER_KEY"], "same key as EPORT_CIPHER_KEY")):
        with pytest.raises(SecretRefused, match=why):
            check_secret("EPORT_PII_KEK", {**others, "EPORT_PII_KEK": value})
    rotating = f"{b64()},{b64()}"
    check_secret("EPORT_PII_KEK", {**others, "EPORT_PII_KEK": rotating})


def test_outside_development_a_service_gets_no_key_store_without_a_proper_kek(monkeypatch, tmp_path):
    monkeypatch.setenv("EPORT_ENV", "production")
    monkeypatch.setenv("EPORT_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("EVENT_STORE", "sqlite")
    monkeypatch.setenv("EPORT_CIPHER_KEY", b64())
    monkeypatch.setenv("EPORT_INDEX_KEY", secrets.token_hex(32))
    monkeypatch.delenv("EPORT_PII_KEK", raising=False)
    with pytest.raises(SecretRefused, match="EPORT_PII_KEK refused: it is not set"):
        person_keys("identity")
    monkeypatch.setenv("EPORT_PII_KEK", b64())
    monkeypatch.setenv("EPORT_KEY_STORE", str(tmp_path / "elsewhere"))
    person_keys("identity").key_for(person())
    assert len(list((tmp_path / "elsewhere" / "identity").glob("*.key"))) == 1
    assert not (tmp_path / "var" / "dev-secrets.json").exists()


def test_development_generates_a_kek_once_even_for_a_var_made_before_it(monkeypatch, tmp_path):
    monkeypatch.setenv("EPORT_ENV", "development")
    monkeypatch.setenv("EPORT_VAR", str(tmp_path))
    monkeypatch.delenv("EPORT_PII_KEK", raising=False)
    (tmp_path / "dev-secrets.json").write_text(json.dumps({"EPORT_CIPHER_KEY": b64(), "EPORT_INDEX_KEY": "ab" * 32}))
    generated = settings.secret("EPORT_PII_KEK")
    assert len(base64.b64decode(generated, validate=True)) == 32
    assert settings.secret("EPORT_PII_KEK") == generated  # every process of the platform agrees

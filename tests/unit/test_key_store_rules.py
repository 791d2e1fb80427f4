"""The per-person keys live apart from the event stores, readable by the service's user alone: outside
development a service refuses any other key folder (services/common/key_store_rules.py)."""
import base64
import os
import secrets
import stat
import uuid

import pytest

from services.common import bootstrap
from services.common.bootstrap import person_keys
from services.common.secret_rules import StartRefused

pytestmark = pytest.mark.unit


@pytest.fixture
def production(monkeypatch, tmp_path):
    monkeypatch.setenv("EPORT_ENV", "production")
    monkeypatch.setenv("EPORT_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("EVENT_STORE", "sqlite")
    monkeypatch.setenv("EPORT_CIPHER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
    monkeypatch.setenv("EPORT_INDEX_KEY", secrets.token_hex(32))
    monkeypatch.setenv("EPORT_PII_KEK", base64.b64encode(secrets.token_bytes(32)).decode())
    monkeypatch.delenv("EPORT_KEY_STORE", raising=False)
    monkeypatch.setattr(bootstrap, "_person_keys", {})
    return tmp_path


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_the_default_key_folder_inside_var_is_refused_outside_development(production):
    with pytest.raises(StartRefused, match=r"EPORT_KEY_STORE \(not set: its default .*var/keys\) refused: it is "
                                           r"inside the folder of the event stores"):
        person_keys("identity")


@pytest.mark.parametrize("where", ["var/keys", "var", "."])  # inside EPORT_VAR, EPORT_VAR itself, holding it
def test_a_key_folder_nested_with_var_is_refused(production, monkeypatch, where):
    monkeypatch.setenv("EPORT_KEY_STORE", str(production / where))
    with pytest.raises(StartRefused, match="EPORT_KEY_STORE=.* refused: it is .*the folder of the event stores"):
        person_keys("identity")


def test_a_link_into_var_is_refused_as_var_itself(production, monkeypatch):
    (production / "var" / "keys").mkdir(parents=True)
    (production / "looks-apart").symlink_to(production / "var" / "keys")
    monkeypatch.setenv("EPORT_KEY_STORE", str(production / "looks-apart"))
    with pytest.raises(StartRefused, match="refused: it is inside the folder of the event stores"):
        person_keys("identity")


def test_a_key_folder_apart_is_made_for_the_user_alone_whatever_the_umask(production, monkeypatch):
    monkeypatch.setenv("EPORT_KEY_STORE", str(production / "keys"))
    previous = os.umask(0o002)  # a permissive one: folders 0775, files 0664 unless asked otherwise
    try:
        person_keys("card").key_for(str(uuid.uuid4()))
    finally:
        os.umask(previous)
    key_file, = (production / "keys" / "card").glob("*.key")
    assert (mode(production / "keys"), mode(production / "keys" / "card"), mode(key_file)) == (0o700, 0o700, 0o600)


@pytest.mark.parametrize("opened", ["keys", "keys/card"])
def test_a_key_folder_others_may_read_is_refused(production, monkeypatch, opened):
    monkeypatch.setenv("EPORT_KEY_STORE", str(production / "keys"))
    person_keys("card").key_for(str(uuid.uuid4()))
    target = production / opened
    target.chmod(0o750)
    monkeypatch.setattr(bootstrap, "_person_keys", {})  # the next process's start
    with pytest.raises(StartRefused, match=f"EPORT_KEY_STORE refused: {target} is readable by its group or others"):
        person_keys("card")


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user takes root")
@pytest.mark.parametrize("given", ["keys", "keys/card"])
def test_a_key_folder_of_another_user_is_refused_even_0700(production, monkeypatch, given):
    monkeypatch.setenv("EPORT_KEY_STORE", str(production / "keys"))
    person_keys("card").key_for(str(uuid.uuid4()))
    os.chown(production / given, 65534, -1)  # nobody's: they read it whatever its mode
    assert mode(production / given) == 0o700
    monkeypatch.setattr(bootstrap, "_person_keys", {})
    with pytest.raises(StartRefused, match=f"EPORT_KEY_STORE refused: {production / given} belongs to user 65534"):
        person_keys("card")


def file_system_reads(monkeypatch):
    """The paths stat-ed or listed from now on (os.stat, os.lstat, os.listdir, os.scandir), as a list that grows."""
    read = []

    def counted(call):
        def reading(path=".", *args, **kwargs):
            read.append(os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else path)
            return call(path, *args, **kwargs)
        return reading

    for name in ("stat", "lstat", "listdir", "scandir"):
        monkeypatch.setattr(os, name, counted(getattr(os, name)))
    return read


def reads_of_a_start(monkeypatch, service):
    """The paths a start of `service` outside development stats or lists for its key store (a new process's
    person_keys, checks included)."""
    monkeypatch.setattr(bootstrap, "_person_keys", {})
    with monkeypatch.context() as patch:
        read = file_system_reads(patch)
        person_keys(service)
    return [p for p in read if isinstance(p, str)]


def test_the_start_up_check_reads_the_folders_never_the_key_files(production, monkeypatch):
    """A start outside development stats the key folder and the service's, not a file per person: its cost
    does not grow with the number of keys (the same reads for 1 person as for 300)."""
    monkeypatch.setenv("EPORT_KEY_STORE", str(production / "keys"))
    folder = production / "keys" / "card"
    person_keys("card").key_for(str(uuid.uuid4()))
    few = reads_of_a_start(monkeypatch, "card")
    keys = person_keys("card")
    for _ in range(299):
        keys.key_for(str(uuid.uuid4()))
    keys.destroy(str(uuid.uuid4()))  # a tombstone too
    assert len(list(folder.iterdir())) == 301  # the premise: a file per person
    many = reads_of_a_start(monkeypatch, "card")
    assert str(folder) in many  # its folder is checked
    assert not [p for p in many if os.path.dirname(p) == str(folder)]  # none of its files
    assert many == few


def test_every_file_the_key_store_writes_is_made_private_whatever_the_umask(production, monkeypatch):
    monkeypatch.setenv("EPORT_KEY_STORE", str(production / "keys"))
    monkeypatch.setenv("EPORT_ENV", "development")  # the key store outside var/ checked in production above
    previous = os.umask(0)
    try:
        keys = person_keys("card")
        keys.key_for(str(uuid.uuid4()))
        erased = str(uuid.uuid4())
        keys.key_for(erased)
        keys.destroy(erased)
        keys.retire(str(uuid.uuid4()))
    finally:
        os.umask(previous)
    made = sorted((p.suffix, mode(p)) for p in (production / "keys" / "card").iterdir())
    assert made == [(".erased", 0o600), (".key", 0o600), (".retired", 0o600)]
    assert (mode(production / "keys"), mode(production / "keys" / "card")) == (0o700, 0o700)


def test_development_keeps_its_keys_in_var(production, monkeypatch):
    monkeypatch.setenv("EPORT_ENV", "development")
    person_keys("identity").key_for(str(uuid.uuid4()))
    assert len(list((production / "var" / "keys" / "identity").glob("*.key"))) == 1

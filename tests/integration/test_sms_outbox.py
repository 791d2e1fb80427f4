"""The development SMS provider (services/notify/sms.py): refused outside development unless
allowed, its file never keeps a code longer than a code is valid, and it keeps nothing of a mobile in
clear (services/notify/outbox_seal.py): a line opens with its mobile's key alone, which an erasure
discards, so that a copy of the file taken before reads no more; the number gets codes again."""
import base64
import json
import shutil
from datetime import UTC, datetime, timedelta

import pytest

from contracts.identity import SMS_CODE_TTL
from contracts.masking import mask_mobile
from services.common.settings import StartRefused
from services.notify import outbox_seal
from services.notify.sms import OutboxProvider, forget_mobile, provider_from_env, read_outbox
from tests.factories import new_mobile

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("env, allowed", [("production", None), ("production", "yes"), ("staging", "false")])
def test_the_outbox_is_refused_outside_development(monkeypatch, env, allowed):
    monkeypatch.setenv("EPORT_ENV", env)
    monkeypatch.setenv("SMS_PROVIDER", "outbox")
    monkeypatch.setenv("SMS_OUTBOX_ALLOWED", allowed or "")
    with pytest.raises(StartRefused, match="refused outside EPORT_ENV=development"):
        provider_from_env()


@pytest.mark.parametrize("env, allowed", [("development", None), ("production", "true")])
def test_the_outbox_runs_in_development_or_when_allowed(monkeypatch, env, allowed):
    monkeypatch.setenv("EPORT_ENV", env)
    monkeypatch.setenv("SMS_PROVIDER", "outbox")
    monkeypatch.setenv("SMS_OUTBOX_ALLOWED", allowed or "")
    assert isinstance(provider_from_env(), OutboxProvider)


def test_an_unknown_provider_is_refused(monkeypatch):
    monkeypatch.setenv("SMS_PROVIDER", "carrier-pigeon")
    with pytest.raises(StartRefused, match="expected one of outbox, tencent"):
        provider_from_env()


def test_the_outbox_drops_codes_older_than_their_validity(tmp_path):
    path = tmp_path / "outbox.jsonl"
    now = datetime.now(UTC)

    def sent(mobile, code, seconds_ago):
        return outbox_seal.seal({"mobile": mobile, "purpose": "login", "code": code, "text": "text",
                                 "sent_at": (now - timedelta(seconds=seconds_ago)).isoformat()})

    old = [sent(new_mobile(), "111111", SMS_CODE_TTL + s) for s in (600, 5)]
    path.write_bytes(b"".join([*old, sent(new_mobile(), "222222", SMS_CODE_TTL - 30)]))
    OutboxProvider(path).send(new_mobile(), "login", "333333", "text")
    assert [sms["code"] for sms in read_outbox(path)] == ["222222", "333333"]
    assert len(path.read_bytes().splitlines()) == 2  # the old lines are gone, not only unread
    OutboxProvider(path).send(new_mobile(), "login", "444444", "text")  # nothing due: appended only
    assert [sms["code"] for sms in read_outbox(path)] == ["222222", "333333", "444444"]


def test_a_mobile_whose_lines_were_all_dropped_keeps_no_key(tmp_path):
    """The outbox's key store does not grow with every mobile ever sent a code: a key goes with the
    last line it sealed (one still needed stays), and the mobile's next SMS gets a new one."""
    path, gone, staying = tmp_path / "outbox.jsonl", new_mobile(), new_mobile()
    for mobile, code in ((gone, "111111"), (staying, "222222"), (staying, "333333")):
        OutboxProvider(path).send(mobile, "login", code, "text")
    lines = [json.loads(line) for line in path.read_bytes().splitlines()]
    stale = (datetime.now(UTC) - timedelta(seconds=SMS_CODE_TTL + 60)).isoformat()
    # the first two lines sent long ago (their seal is bound to the time: they open no more, as expired)
    path.write_bytes(b"".join((json.dumps(dict(line, sent_at=stale) if n < 2 else line) + "\n").encode()
                              for n, line in enumerate(lines)))
    store = outbox_seal.keys()
    assert store.find(outbox_seal.name_of(gone)) is not None
    OutboxProvider(path).send(new_mobile(), "login", "444444", "text")  # the send that prunes
    assert store.find(outbox_seal.name_of(gone)) is None
    assert [sms["code"] for sms in read_outbox(path, staying)] == ["333333"]  # its key stayed: a line needs it
    OutboxProvider(path).send(gone, "login", "555555", "text")
    assert [sms["code"] for sms in read_outbox(path, gone)] == ["555555"]


def forms_of(mobile):
    """Every form of a mobile a search of the file would try: clear, JSON \\u escapes, masked."""
    escaped = "".join(f"\\u{ord(c):04x}" for c in mobile)
    return {"clear": mobile, "escaped": escaped, "masked": mask_mobile(mobile), "tail": mobile[-8:]}


def test_the_outbox_holds_nothing_of_a_mobile_in_clear_yet_its_reader_opens_it(tmp_path):
    path, mobile = tmp_path / "outbox.jsonl", new_mobile()
    OutboxProvider(path).send(mobile, "register", "918273", f"【电子口岸】验证码918273，发给{mask_mobile(mobile)}")
    raw = path.read_text(encoding="ascii")
    assert [name for name, form in forms_of(mobile).items() if form in raw] == []
    assert "918273" not in raw and "电子口岸" not in raw and "register" not in raw
    assert set(json.loads(raw)) == {"to", "sent_at", "sealed"}
    [sms] = read_outbox(path, mobile)
    assert (sms["mobile"], sms["purpose"], sms["code"]) == (mobile, "register", "918273")


def test_an_erased_mobile_reads_no_more_even_from_a_copy_taken_before_and_gets_codes_again(tmp_path):
    path, mobile, neighbour = tmp_path / "outbox.jsonl", new_mobile(), new_mobile()
    for sent_to, code in ((mobile, "111111"), (neighbour, "222222"), (mobile, "333333")):
        OutboxProvider(path).send(sent_to, "login", code, "text")
    before = tmp_path / "copy-before.jsonl"  # a backup of var/, the key store apart
    shutil.copy(path, before)
    assert forget_mobile(mobile, path) == 2
    assert read_outbox(before, mobile) == [] and read_outbox(path, mobile) == []
    assert [sms["code"] for sms in read_outbox(before)] == ["222222"]  # the neighbour's still opens
    assert len(before.read_bytes().splitlines()) == 3  # the copy keeps the lines: the key is what went
    OutboxProvider(path).send(mobile, "register", "444444", "text")  # the number registers again
    assert [sms["code"] for sms in read_outbox(path, mobile)] == ["444444"]
    assert read_outbox(before, mobile) == []  # the new key opens nothing of before
    assert forget_mobile(new_mobile(), tmp_path / "none.jsonl") == 0  # no outbox: nothing to drop


def test_a_damaged_or_foreign_line_is_skipped(tmp_path):
    path, mobile = tmp_path / "outbox.jsonl", new_mobile()
    OutboxProvider(path).send(mobile, "login", "555555", "text")
    good = path.read_bytes()
    line = json.loads(good)
    sealed = bytearray(base64.b64decode(line["sealed"]))
    sealed[-1] ^= 1
    moved = dict(line, sent_at="2030-01-01T00:00:00+00:00")  # its time changed: bound to it, opens no more
    foreign = [b"not json", b"[1, 2]", b"{}", json.dumps({"mobile": mobile, "code": "666666"}).encode(),
               json.dumps(dict(line, sealed=base64.b64encode(bytes(sealed)).decode())).encode(),
               json.dumps(dict(line, to="../../etc/passwd")).encode(), json.dumps(dict(line, to=7)).encode(),
               json.dumps(dict(line, sealed="%%%")).encode(), json.dumps(moved).encode(), b"\xff\xfe"]
    path.write_bytes(b"\n".join(foreign) + b"\n" + good + good[:30])  # the last one half written
    assert [sms["code"] for sms in read_outbox(path)] == ["555555"]
    assert [sms["code"] for sms in read_outbox(path, mobile)] == ["555555"]

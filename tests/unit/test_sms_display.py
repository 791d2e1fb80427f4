"""The launcher shows each development SMS as it lands in the outbox: masked mobile, purpose,
code, marked development only; only the ones sent after it started, each once; it opens the sealed
lines with the platform's one reader (services/notify/sms.py), and a line it cannot open is skipped."""
from datetime import UTC, datetime

import pytest

from deploy.sms_display import OutboxFollower
from services.notify.outbox_seal import seal

pytestmark = pytest.mark.unit


def sms(mobile, purpose, code):
    return seal({"mobile": mobile, "purpose": purpose, "code": code, "text": "…",
                 "sent_at": datetime.now(UTC).isoformat()})


def test_shows_new_sms_masked_with_purpose_and_code_marked_development_only(tmp_path):
    outbox = tmp_path / "sms-outbox.jsonl"
    outbox.write_bytes(sms("13306506117", "register", "111111"))
    phone = OutboxFollower(outbox)
    assert phone.poll() == []  # what was there before the launcher started is not shown
    with open(outbox, "ab") as f:
        f.write(sms("13306506117", "register", "950339") + sms("18912345678", "reset_password", "123456"))
    lines = phone.poll()
    assert len(lines) == 2
    assert "133****6117" in lines[0] and "13306506117" not in lines[0]
    assert "注册账户" in lines[0] and "950339" in lines[0] and "development only" in lines[0]
    assert "189****5678" in lines[1] and "忘记密码" in lines[1] and "123456" in lines[1]
    assert phone.poll() == []  # each once


def test_a_line_being_written_waits_for_its_end_and_a_new_outbox_starts_over(tmp_path):
    outbox = tmp_path / "sms-outbox.jsonl"
    phone = OutboxFollower(outbox)  # no outbox yet
    assert phone.poll() == []
    line = sms("13306506117", "login", "654321")
    outbox.write_bytes(line[:20])
    assert phone.poll() == []
    with open(outbox, "ab") as f:
        f.write(line[20:] + b"not json\n")
    assert [("手机号登录" in x and "654321" in x) for x in phone.poll()] == [True]
    outbox.write_bytes(sms("13306506117", "login", "777777"))  # replaced, shorter
    assert ["777777" in x for x in phone.poll()] == [True]

"""The development SMS provider (services/notify/sms.py): refused outside development unless
allowed, and its file never keeps a code longer than a code is valid."""
import json
from datetime import UTC, datetime, timedelta

import pytest

from contracts.identity import SMS_CODE_TTL
from services.common.settings import StartRefused
from services.notify.sms import OutboxProvider, provider_from_env

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

    def ago(seconds):
        return (now - timedelta(seconds=seconds)).isoformat()

    old = [{"mobile": "13800000001", "code": "111111", "sent_at": ago(SMS_CODE_TTL + s)} for s in (600, 5)]
    fresh = {"mobile": "13800000002", "code": "222222", "sent_at": ago(SMS_CODE_TTL - 30)}
    path.write_text("".join(json.dumps(line) + "\n" for line in [*old, fresh]))
    OutboxProvider(path).send("13800000003", "login", "333333", "text")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["code"] for line in lines] == ["222222", "333333"]
    assert "111111" not in path.read_text()
    OutboxProvider(path).send("13800000004", "login", "444444", "text")  # nothing due: appended only
    assert [json.loads(line)["code"] for line in path.read_text().splitlines()] == ["222222", "333333", "444444"]

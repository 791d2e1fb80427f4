"""Notify's Tencent Cloud SMS provider (services/notify/sms_tencent.py) and its delivery
(sms_delivery.py): the real SDK against a local server that answers as the provider's API does
(tests/tencent_sms.py), over HTTP. The signature, the template and its parameters arrive as set;
the provider's internal errors, rate limits and network failures are tried again with back-off;
what fails for good is parked and counted, without the code; the code is in no log line, the SDK's
own DEBUG lines included."""
import json
import logging
import socket

import pytest

from contracts.masking import mask_mobile
from services.notify.outbox_seal import name_of
from services.notify.sms_delivery import Delivery, parked_path
from services.notify.sms_tencent import TencentProvider
from tests.factories import new_mobile
from tests.tencent_sms import SECRET_ID, SECRET_KEY, FakeTencentSms

pytestmark = pytest.mark.integration
CODE = "482913"
TEMPLATES = {"register": "1001", "login": "1002", "reset_password": "1003", "personal_data": "1004"}


@pytest.fixture
def tencent(monkeypatch, tmp_path):
    with FakeTencentSms() as fake:
        for name, value in {"SMS_PROVIDER": "tencent", "SMS_ENDPOINT": fake.endpoint, "EPORT_VAR": str(tmp_path),
                            "SMS_TENCENT_SECRET_ID": SECRET_ID, "SMS_TENCENT_SECRET_KEY": SECRET_KEY,
                            "SMS_TENCENT_APP_ID": "1400000001", "SMS_SIGN_NAME": "电子口岸",
                            "SMS_TEMPLATES": ",".join(f"{p}={t}" for p, t in TEMPLATES.items()),
                            "SMS_RETRY_DELAY": "0.5", "SMS_ATTEMPTS": "3", "SMS_TIMEOUT": "2"}.items():
            monkeypatch.setenv(name, value)
        yield fake


def delivery():
    slept = []
    return Delivery(TencentProvider(), sleep=slept.append), slept


def parked():
    path = parked_path()
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_code_goes_out_signed_with_its_template_signature_and_parameters(tencent):
    mobile = new_mobile()
    sender, slept = delivery()
    assert sender.send(mobile, "login", CODE, "text the template replaces") is True
    (request,) = tencent.requests  # the server checked the TC3 signature with the SecretKey
    assert request["headers"]["x-tc-region"] == "ap-guangzhou"
    assert request["body"] == {"PhoneNumberSet": [f"+86{mobile}"], "SmsSdkAppId": "1400000001",
                               "SignName": "电子口岸", "TemplateId": "1002", "TemplateParamSet": [CODE, "5"]}
    assert slept == [] and parked() == [] and sender.counts == {"sent": 1, "retried": 0, "parked": 0}


def test_the_providers_internal_errors_rate_limit_and_a_bad_gateway_are_tried_again_with_back_off(tencent):
    tencent.script = ["InternalError.Timeout", 502]
    sender, slept = delivery()
    assert sender.send(new_mobile(), "register", CODE, "t") is True
    assert len(tencent.requests) == 3 and slept == [0.5, 1.0]
    tencent.script = ["RequestLimitExceeded", "InternalError", "InternalError"]
    assert sender.send(new_mobile(), "register", CODE, "t") is False  # three tries, then parked
    assert slept == [0.5, 1.0, 0.5, 1.0]
    assert sender.counts == {"sent": 1, "retried": 4, "parked": 1}
    assert [p["error"] for p in parked()] == ["InternalError"]


@pytest.mark.parametrize("failure", ["LimitExceeded.PhoneNumberDailyLimit",
                                     "FailedOperation.InsufficientBalanceInSmsPackage",
                                     "InvalidParameterValue.TemplateParameterFormatError"])
def test_a_failure_for_good_is_parked_at_once_named_by_a_digest_never_the_mobile_or_the_code(tencent, failure):
    mobile = new_mobile()
    tencent.script = [failure]
    sender, slept = delivery()
    assert sender.send(mobile, "reset_password", CODE, "t") is False
    assert slept == [] and len(tencent.requests) == 1
    (line,) = parked()
    assert line["error"] == failure and line["purpose"] == "reset_password" and line["attempts"] == 1
    assert line["to"] == name_of(mobile) and line["request_id"]
    kept = parked_path().read_text()
    assert CODE not in kept and mobile not in kept and mobile[-4:] not in kept and mask_mobile(mobile) not in kept
    assert sender.operations_status()["sms_parked"] == 1


def test_a_wrong_secret_key_is_refused_by_the_provider_and_parked(tencent, monkeypatch):
    monkeypatch.setenv("SMS_TENCENT_SECRET_KEY", "another" + SECRET_KEY[7:])
    sender, slept = delivery()
    assert sender.send(new_mobile(), "login", CODE, "t") is False
    assert tencent.requests == [] and slept == []
    assert [p["error"] for p in parked()] == ["AuthFailure.SignatureFailure"]


def test_an_unreachable_provider_is_tried_again_then_parked(tencent, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens there once closed
    monkeypatch.setenv("SMS_ENDPOINT", f"http://127.0.0.1:{closed}")
    sender, slept = delivery()
    assert sender.send(new_mobile(), "login", CODE, "t") is False
    assert slept == [0.5, 1.0] and [p["error"] for p in parked()] == ["ClientNetworkError"]


def test_the_code_is_in_no_log_line_even_at_debug(tencent, caplog):
    caplog.set_level(logging.DEBUG)  # the root and every logger that inherits it
    logging.getLogger("tencentcloud_sdk_common").setLevel(logging.DEBUG)  # an operator's try
    sender, _ = delivery()
    tencent.script = ["InternalError", "LimitExceeded.PhoneNumberDailyLimit"]
    mobile = new_mobile()
    assert sender.send(mobile, "login", CODE, "t") is False
    assert sender.send(new_mobile(), "login", CODE, "t") is True
    lines = [record.getMessage() for record in caplog.records]
    assert any("parked" in line for line in lines) and any("urllib3" in r.name for r in caplog.records)
    assert not [line for line in lines if CODE in line or mobile in line]


def test_notify_refuses_to_start_without_its_templates(tencent, monkeypatch):
    from services.common.settings import StartRefused
    monkeypatch.setenv("SMS_TEMPLATES", "register=1001")
    with pytest.raises(StartRefused, match="no template for login, reset_password, personal_data"):
        TencentProvider()


def test_notify_refuses_the_examples_placeholders(tencent, monkeypatch):
    from services.common.settings import StartRefused
    monkeypatch.setenv("SMS_TENCENT_SECRET_KEY", "REPLACE-ME")
    with pytest.raises(StartRefused, match="needs SMS_TENCENT_SECRET_KEY \\(a placeholder\\)"):
        TencentProvider()


def test_an_erased_mobiles_parked_lines_go_and_only_its_own(tencent):
    """forget_parked (an erasure) drops the lines of that mobile, not those of a number masked the same."""
    erased, neighbour = new_mobile(), new_mobile()
    neighbour = erased[:3] + neighbour[3:7] + erased[-4:]  # the same masked form, another number
    assert neighbour != erased
    tencent.script = ["LimitExceeded.PhoneNumberDailyLimit"] * 2
    sender, _ = delivery()
    assert sender.send(erased, "login", CODE, "t") is False and sender.send(neighbour, "login", CODE, "t") is False
    assert Delivery.forget_parked(erased) == 1
    assert [line["to"] for line in parked()] == [name_of(neighbour)]

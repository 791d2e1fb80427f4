"""Tencent Cloud SMS (短信), through its official SDK (tencentcloud-sdk-python-sms, API 2021-01-11
SendSms): one request per SMS, signed TC3-HMAC-SHA256 with a SecretId/SecretKey pair.

The signature (SMS_SIGN_NAME), the template of each purpose (SMS_TEMPLATES) and what fills the
template's {1}, {2}… (SMS_TEMPLATE_PARAMS: the code, the minutes it is valid) are settings: the
provider approves them, not this code. SMS_ENDPOINT names the API (a test's local server).

The code is in the request body, which the SDK logs at DEBUG ("SendRequest: …"): its logger is
shut here for good, whatever level an operator sets, and this module logs error codes only.
"""
import logging
from urllib.parse import urlsplit

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from contracts.identity import SMS_CODE_TTL, SMS_PURPOSES
from services.common.secret_rules import PLACEHOLDER
from services.common.settings import StartRefused, setting

from .sms import SmsFailed, SmsProvider

SDK_LOGGER = "tencentcloud_sdk_common"
# Worth another try: the network, the provider's own fault, its rate limit. Anything else (a bad
# signature, template or number, a number's daily limit) fails the same way again.
RETRYABLE = ("ClientNetworkError", "ServerNetworkError", "InternalError", "RequestLimitExceeded")
PARAMS = ("code", "minutes")


def silence_sdk_logger():
    """Nothing the SDK logs leaves it: its DEBUG lines carry the request, the code in it."""
    logger = logging.getLogger(SDK_LOGGER)
    logger.setLevel(logging.CRITICAL + 1)
    logger.propagate = False
    logger.disabled = True


def templates():
    """purpose -> template id, from SMS_TEMPLATES ("register=1,login=2,reset_password=3")."""
    found = {}
    for item in (setting("SMS_TEMPLATES") or "").split(","):
        purpose, _, template = item.strip().partition("=")
        if purpose:
            found[purpose.strip()] = template.strip()
    missing = [p for p in SMS_PURPOSES if not found.get(p)]
    if missing:
        raise StartRefused(f"SMS_TEMPLATES names no template for {', '.join(missing)} "
                           f"(register=…,login=…,reset_password=…,personal_data=…)")
    return found


def template_params():
    names = [n.strip() for n in setting("SMS_TEMPLATE_PARAMS").split(",") if n.strip()]
    unknown = [n for n in names if n not in PARAMS]
    if unknown:
        raise StartRefused(f"SMS_TEMPLATE_PARAMS: {', '.join(unknown)} unknown (expected {', '.join(PARAMS)})")
    return names


def required(name):
    value = setting(name)
    if not value or PLACEHOLDER.search(value):
        raise StartRefused(f"SMS_PROVIDER=tencent needs {name} ({'a placeholder' if value else 'not set'})")
    return value


class TencentProvider(SmsProvider):
    def __init__(self):
        silence_sdk_logger()
        self.templates, self.params = templates(), template_params()
        self.sign_name, self.app_id = required("SMS_SIGN_NAME"), required("SMS_TENCENT_APP_ID")
        endpoint = urlsplit(setting("SMS_ENDPOINT"))
        http = HttpProfile(protocol=endpoint.scheme or "https", endpoint=endpoint.netloc or endpoint.path,
                           reqTimeout=float(setting("SMS_TIMEOUT")))
        # no region breaker: it would send to a backup endpoint that is not SMS_ENDPOINT
        profile = ClientProfile(httpProfile=http, disable_region_breaker=True)
        secrets = credential.Credential(required("SMS_TENCENT_SECRET_ID"), required("SMS_TENCENT_SECRET_KEY"))
        self.client = sms_client.SmsClient(secrets, setting("SMS_TENCENT_REGION"), profile)

    def _request(self, mobile, purpose, code):
        request = models.SendSmsRequest()
        request.PhoneNumberSet = [f"+86{mobile}"]
        request.SmsSdkAppId, request.SignName = self.app_id, self.sign_name
        request.TemplateId = self.templates[purpose]
        values = {"code": code, "minutes": str(max(1, SMS_CODE_TTL // 60))}
        request.TemplateParamSet = [values[name] for name in self.params]
        return request

    def send(self, mobile, purpose, code, text):
        try:
            answer = self.client.SendSms(self._request(mobile, purpose, code))
        except TencentCloudSDKException as exc:
            code_ = exc.get_code() or "ClientError"
            raise SmsFailed(code_, exc.get_request_id(), retry=code_.startswith(RETRYABLE)) from None
        status = (answer.SendStatusSet or [None])[0]
        if status is None or status.Code != "Ok":  # the request went through, this number's SMS did not
            code_ = status.Code if status is not None else "NoSendStatus"
            raise SmsFailed(code_, answer.RequestId, retry=code_.startswith(RETRYABLE))

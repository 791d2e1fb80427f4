"""SMS entrypoints of the notify service: identity hands it each code by RPC, and only by RPC, under
the command id of the request that asked for it: an SMS is sent once per command id (the record is
kept in the inbox's store, notify's one store: InboxApplication.send_sms)."""
import re

from nameko.extensions import DependencyProvider

from contracts import validators
from contracts.errors import ValidationFailed
from contracts.validators import check_field
from contracts.identity import SMS_PURPOSES
from services.common.rpc import rpc

from .sms import forget_mobile, provider_from_env
from .sms_delivery import Delivery

MAX_TEXT = 500
CODE_RE = re.compile(r"\d{6}")


class SmsSender(DependencyProvider):
    """The SMS provider chosen by SMS_PROVIDER, made once per container (a provider refused here
    stops the service at its start), with its retries and its parked failures (sms_delivery.py)."""

    def setup(self):
        self.delivery = Delivery(provider_from_env())

    def get_dependency(self, worker_ctx):
        return self.delivery

    def operations_status(self):
        return self.delivery.operations_status()


class SmsEntrypoints:
    sms_sender = SmsSender()

    @rpc
    def send_sms(self, mobile, purpose, code, text, deliver=True):
        """Sends one SMS. Returns nothing (the code is never echoed back) and logs nothing of it.
        `deliver` false: identity's hand-off of a code no one may use (a login or reset code of an
        unregistered mobile), made as every other so that its timing tells nothing: checked and
        recorded alike, not sent."""
        errors = {}
        try:
            mobile = validators.mobile(mobile)
        except ValueError as exc:
            errors["mobile"] = [str(exc)]
        if purpose not in SMS_PURPOSES:
            errors["purpose"] = [f"Must be one of: {', '.join(SMS_PURPOSES)}."]
        if code is not None and not (isinstance(code, str) and CODE_RE.fullmatch(code)):
            errors["code"] = ["An SMS code is 6 digits."]
        if not isinstance(text, str) or not 0 < len(text) <= MAX_TEXT:
            errors["text"] = [f"Must be a string of 1 to {MAX_TEXT} characters."]
        if errors:
            raise ValidationFailed(details=errors)
        if not isinstance(deliver, bool):
            raise ValidationFailed(details={"deliver": ["Not a boolean."]})

        def send():
            if deliver:
                self.sms_sender.send(mobile, purpose, code, text)

        self.inbox.send_sms(send)  # once per command id: identity may hand it over again (its retry)

    @rpc
    def forget_mobile(self, mobile):
        """Its holder was erased (services/common/erasure.py): no line of the SMS outbox, and no
        parked SMS, names the mobile any more. Only identity calls it, which alone knows the mobile."""
        mobile = check_field("mobile", validators.mobile, mobile)
        return {"dropped": forget_mobile(mobile) + self.sms_sender.forget_parked(mobile)}

"""SMS codes of the identity application: asking for one, and presenting one (a mixin of
IdentityApplication: it uses the application's clock, limits, digests, find and save)."""
import secrets

from contracts import validators
from contracts.validators import check_field
from services.common import context
from services.common.application import retry_on_conflict

from .domain import (ACCOUNT_BUSY, CODE_EXPIRED, CODE_USED, CODE_VALID, CODE_WRONG, MobileIndex, SmsAttemptsExceeded,
                     SmsBox)
from .inputs import purpose_input
from .sms_text import sms_text

CLIENT_MAX = 128  # characters of the caller's address the gateway names (IPv6 with a zone fits)


class SmsCodes:
    def _client_key(self, client):
        """The keyed digest of the caller's address the gateway names (None: the caller named none)."""
        if client is None:
            return None
        return self.digests.client(check_field("client", validators.string(CLIENT_MAX), client))

    def _box(self, mobile_digest):
        return self.find(SmsBox.create_id(mobile_digest), SmsBox)

    def request_sms_code(self, mobile, purpose, client=None):
        """Returns (answer for the caller, hand-off for notify or None).

        The answer, and the work behind it, are the same whether the mobile is registered or not:
        every request issues a code, stored as its digest, and hands it to notify, which sends it
        only when `deliver` (`register` codes always: registering a taken mobile then answers
        MOBILE_TAKEN to the holder of the code, and only to them; `login` and `reset_password`
        codes only to a registered mobile). `client` (the caller's address, from the gateway) has
        its own cooldown and quota per mobile, so that others' requests never use up the owner's.

        Resumable (services/common/commands.py): the box's save is the command's first, its answer
        follows once the code went to notify (service.py). A death between the two is resumed by
        the retry with the same command id, which finds the box saved (`resuming()`) and hands the
        same code again, derived from the seed stored with it; notify sends it once.
        """
        mobile = check_field("mobile", validators.mobile, mobile)
        purpose = check_field("purpose", purpose_input, purpose)
        client = self._client_key(client)
        mobile_digest = self.digests.mobile(mobile)
        limits = self.limits
        answer = {"expires_in": limits.sms_code_ttl, "resend_after": limits.sms_resend_after}
        if self.resuming():
            code = self._code_issued_by_this_command(mobile_digest, purpose)
        else:
            code = self._issue_code(mobile_digest, purpose, client)
        registered = self.find(MobileIndex.create_id(mobile_digest), MobileIndex) is not None
        delivery = None if code is None else {
            "mobile": mobile, "purpose": purpose, "code": code, "text": sms_text(purpose, code, limits),
            "deliver": purpose == "register" or registered}
        return answer, delivery

    def _issue_code(self, mobile_digest, purpose, client):
        """Records the request in the mobile's box (the command's first save) and answers its code."""
        limits = self.limits

        def attempt():
            now = self.clock()
            box = self._box(mobile_digest) or SmsBox(mobile_digest=mobile_digest)
            box.check_can_request(purpose, now, limits, client)
            seed = secrets.token_hex(16)
            code = self.digests.sms_code_of(seed, context.command_id())
            box.issue(purpose=purpose, at=now, expires_at=now + limits.sms_code_ttl, seed=seed, client=client,
                      code_digest=self.digests.sms_code(mobile_digest, purpose, code))
            self.save(box)  # no answer yet: it follows the hand-off to notify
            return code

        return retry_on_conflict(attempt, message=ACCOUNT_BUSY)

    def _code_issued_by_this_command(self, mobile_digest, purpose):
        """The code this command's first run issued, while the box holds it unused and valid; None
        when it sent nothing, or its code was used, expired or replaced meanwhile."""
        box = self._box(mobile_digest)
        seed = None if box is None else box.issued_seed(purpose)
        if seed is None:
            return None
        code = self.digests.sms_code_of(seed, context.command_id())
        digest = self.digests.sms_code(mobile_digest, purpose, code)
        return code if box.match(purpose, digest, self.clock()) == CODE_VALID else None

    def _present_code(self, box, purpose, code, now, client=None):
        """The outcome of presenting `code` by `client` (a key, _client_key); a wrong one is recorded
        on `box` (not saved here): against the code's tries and the client's. Only that client's own
        block refuses it (SMS_CODE_ATTEMPTS_EXCEEDED): others' wrong tries never keep it out."""
        if box is None:
            return None
        box.check_not_blocked(purpose, now, client)
        outcome = box.match(purpose, self.digests.sms_code(box.mobile_digest, purpose, code), now)
        if outcome == CODE_WRONG:
            box.reject(purpose, now, self.limits, client)
        return outcome

    def _refuse_code(self, box, purpose, outcome, now, error, *counted, client=None):
        """Raise the refusal of a code that is not CODE_VALID (an `error`, or the block the wrong
        try reached); a wrong one was counted on `box` (and on `counted`): saved with the refusal.
        A burnt code's tries are answered as wrong ones and change nothing."""
        try:
            if box is not None:
                box.check_not_blocked(purpose, now, client)  # the wrong try that reached the limit says so
            refusal = error(_REFUSALS.get(outcome, "The SMS code is wrong."))
        except SmsAttemptsExceeded as blocked:
            refusal = blocked
        if outcome == CODE_WRONG:
            self.refuse(refusal, box, *counted)
        raise refusal


_REFUSALS = {CODE_USED: "This code has already been used; ask for a new one.",
             CODE_EXPIRED: "This code has expired; ask for a new one."}

"""SMS codes of the identity application: asking for one (a mixin of IdentityApplication: what it
needs of the application is SmsCodesHost). Presenting one is SmsCodeChecks' (collaborators.py)."""
import secrets
from typing import Protocol

from contracts import validators
from contracts.identity import PERSONAL_DATA
from contracts.validators import check_field
from services.common.application import retry_on_conflict
from services.common.commands import command

from .collaborators import Core, SmsCodeChecks
from .domain import ACCOUNT_BUSY, CODE_VALID, MobileIndex, SmsBox
from .inputs import purpose_input
from .sms_text import sms_text


class SmsCodesHost(Core, Protocol):
    """What SmsCodes needs of the application it is mixed into (tests/unit/test_identity_mixins.py)."""
    sms_checks: SmsCodeChecks



class SmsCodes:
    @command(resumable=True)
    def request_sms_code(self, run, mobile, purpose, client=None, actor_user_id=None, peers=None):
        """The caller's answer, once the code went to notify through `peers` (peers.py; None: to nobody,
        for a test reading the answer alone).

        The answer, and the work behind it, are the same whether the mobile is registered or not:
        every request issues a code, stored as its digest, and hands it to notify, which sends it
        only when `deliver` (`register` codes always: registering a taken mobile then answers
        MOBILE_TAKEN to the holder of the code, and only to them; `login` and `reset_password`
        codes only to a registered mobile). `client` (the caller's address, from the gateway) has
        its own cooldown and quota per mobile, so that others' requests never use up the owner's.
        A `personal_data` code needs `actor_user_id` (the gateway's, from the Bearer token) and goes
        only to that account's own mobile: 401 without a live account, 403 FORBIDDEN for another.

        Resumable (services/common/commands.py): the box's save is the command's first, its answer
        follows once the code went to notify (`peers.send_sms`). A death between the two is resumed by
        the retry with the same command id, which finds the box saved (`run.resuming`) and hands the
        same code again, derived from the seed stored with it; notify sends it once.
        """
        mobile = check_field("mobile", validators.mobile, mobile)
        purpose = check_field("purpose", purpose_input, purpose)
        if purpose == PERSONAL_DATA:
            self.sms_checks.own_account(actor_user_id, mobile)
        client = self.sms_checks.client_key(client)
        mobile_digest = self.digests.mobile(mobile)
        limits = self.limits
        answer = {"expires_in": limits.sms_code_ttl, "resend_after": limits.sms_resend_after}
        if run.resuming:
            code = self._code_issued_by_this_command(run, mobile_digest, purpose)
        else:
            code = self._issue_code(run, mobile_digest, purpose, client)
        index = self.find(MobileIndex.create_id(mobile_digest), MobileIndex)
        registered = index is not None and index.user_id is not None  # an erasure releases it
        if code is not None and peers is not None:
            peers.send_sms(mobile, purpose, code, sms_text(purpose, code, limits),
                           deliver=purpose == "register" or registered)
        return answer

    def _issue_code(self, run, mobile_digest, purpose, client):
        """Records the request in the mobile's box (the command's first save) and answers its code."""
        limits = self.limits

        def attempt():
            now = self.clock()
            box = self.sms_checks.box(mobile_digest) or SmsBox(mobile_digest=mobile_digest)
            box.check_can_request(purpose, now, limits, client)
            seed = secrets.token_hex(16)
            code = self.digests.sms_code_of(seed, run.command_id)
            box.issue(purpose=purpose, at=now, expires_at=now + limits.sms_code_ttl, seed=seed, client=client,
                      code_digest=self.digests.sms_code(mobile_digest, purpose, code))
            run.save(box)  # no answer yet: it follows the hand-off to notify
            return code

        return retry_on_conflict(attempt, message=ACCOUNT_BUSY)

    def _code_issued_by_this_command(self, run, mobile_digest, purpose):
        """The code this command's first run issued, while the box holds it unused and valid; None
        when it sent nothing, or its code was used, expired or replaced meanwhile."""
        box = self.sms_checks.box(mobile_digest)
        seed = None if box is None else box.issued_seed(purpose)
        if seed is None:
            return None
        code = self.digests.sms_code_of(seed, run.command_id)
        digest = self.digests.sms_code(mobile_digest, purpose, code)
        return code if box.match(purpose, digest, self.clock()) == CODE_VALID else None

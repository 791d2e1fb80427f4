"""What the identity service asks other services, behind one small interface the application uses
(as card's, enterprise's and notify's `peers.py`).

The application gets a `Peers` (over the worker's RPC proxies) or, in unit tests, a fake with the
same methods (tests/peers.py FakeIdentityPeers). Every call waiting for an answer has a deadline: a
service that does not answer is a 503.
"""
import logging
from typing import Protocol

from nameko.exceptions import UnknownService

from contracts import errors as e
from contracts.errors import ServiceError
from services.common.rpc import RPC_DEADLINE, call_with_deadline

log = logging.getLogger(__name__)


class PeerServices(Protocol):
    def send_sms(self, mobile: str, purpose: str, code: str, text: str, deliver: bool) -> None:
        """notify.send_sms, handed over without waiting for its reply; 503 SMS_DELIVERY_FAILED when
        notify was never started. `deliver` false: notify records it and sends nothing."""

    def forget_mobile(self, mobile: str) -> None:
        """notify.forget_mobile: the SMS outbox's and the parked SMS' lines of an erased person's mobile go."""

    def admin_has_members(self, user_id: str) -> bool:
        """enterprise.admin_has_members: whether the person administers an enterprise with other members
        (an erasure then waits for the role's handover: erasures.py)."""


class Peers:
    def __init__(self, notify=None, enterprise=None, timeout=RPC_DEADLINE):
        self.notify, self.enterprise, self.timeout = notify, enterprise, timeout

    def send_sms(self, mobile, purpose, code, text, deliver):
        # The code goes to notify by RPC only, a registered mobile's or not (`deliver` says whether
        # notify sends it): the same publish either way, and not waiting for notify's reply (so no
        # deadline), keep the answer as fast for a number that gets an SMS as for one that does not
        # (no account enumeration by timing); the request waits in notify's durable RPC queue if
        # notify is restarting. It carries the command id, under which notify sends it once however
        # often it is handed over.
        try:
            self.notify.send_sms.call_async(mobile=mobile, purpose=purpose, code=code, text=text, deliver=deliver)
        except UnknownService:
            log.error("SMS not sent: the notify service has never been started")
            raise ServiceError(e.SMS_DELIVERY_FAILED, "The SMS could not be sent; try again later.") from None

    def forget_mobile(self, mobile):
        call_with_deadline(self.notify.forget_mobile, mobile, deadline=self.timeout)

    def admin_has_members(self, user_id):
        return bool(call_with_deadline(self.enterprise.admin_has_members, user_id, deadline=self.timeout))

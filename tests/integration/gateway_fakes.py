"""Stand-ins for the in-process gateway suites: an identity that answers every SMS-code request."""
from services.common.rpc import rpc
from tests.tokens import IdentityStandIn


class SmsIdentity(IdentityStandIn):
    @rpc
    def request_sms_code(self, mobile, purpose, client=None):
        return {"expires_in": 300, "resend_after": 60}

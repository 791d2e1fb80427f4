"""POST /api/v1/me/erasure: the caller's personal data erased (PIPL Art. 47; services/identity/erasures.py)."""
import time

from contracts import errors as e

from . import budgets
from .personal_data_schemas import ErasureAcceptedSchema, PersonalDataCodeSchema
from .routing import call, route


class ErasureRoutes:
    @route("POST", "/api/v1/me/erasure", summary="Erase my personal data (注销并删除个人信息)", status=202,
           body=PersonalDataCodeSchema, response=ErasureAcceptedSchema, tags=("identity",),
           budget=budgets.PERSONAL_DATA,
           errors=(e.SMS_CODE_INVALID, e.SMS_CODE_ATTEMPTS_EXCEEDED, e.ADMIN_HAS_MEMBERS, e.LEGAL_HOLD),
           description="Needs a `personal_data` SMS code of the account's own mobile. Every session of the "
                       "account ends at once; every service then erases what it holds (`eport erasures list` "
                       "follows it), after which login is refused and the ID number and mobile may register "
                       "again. The audit trail keeps ids, types and times, the user id as a pseudonym. 409 "
                       "ADMIN_HAS_MEMBERS: hand the administrator role over first; 409 LEGAL_HOLD: an operator "
                       "holds the data.")
    def create_erasure(self, request, actor, body):
        accepted = call(self.identity.request_erasure, actor.user_id, body["sms_code"],
                        **budgets.sms_request_options(request))
        # ended here at once; the other instances by UserErased (gateway/service.py)
        self.sessions.end_sessions_of(actor.user_id, time.time() + 1)
        return 202, accepted

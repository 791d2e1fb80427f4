"""POST /api/v1/me/export: the caller's copy of every personal datum the platform holds about them
(shared/API.md "Personal data", PIPL Art. 45). identity spends the caller's personal_data SMS code
(one code, one export); then each service answers its part for the user id of the verified token
(their `personal_data` RPC; deploy/broker_policy.py lets only the gateway ask), and the document is
contracts/personal_data.py's, its JSON Schema published here. Nothing of it is logged or stored."""
import time

from contracts import errors as e
from contracts.personal_data import OPENAPI_NAME, PARTS, assemble
from contracts.times import iso_of_epoch
from services.common.deployment import deployed_services

from . import budgets
from .personal_data_schemas import PersonalDataCodeSchema
from .routing import call, route

EXPORT_RESPONSE = {"$ref": f"#/components/schemas/{OPENAPI_NAME}"}


class PersonalDataRoutes:
    @route("POST", "/api/v1/me/export", summary="Download my personal data (下载我的数据)", body=PersonalDataCodeSchema,
           response=EXPORT_RESPONSE, tags=("identity",), budget=budgets.PERSONAL_DATA,
           errors=(e.SMS_CODE_INVALID, e.SMS_CODE_ATTEMPTS_EXCEEDED),
           description="Needs a `personal_data` SMS code of the caller's own mobile; one code serves one "
                       "export. Answers every personal datum the platform holds about the caller, unmasked, "
                       "from every service, as the document `PersonalDataExport` (its JSON Schema ships "
                       "with the platform: contracts/schemas/personal-data-export.json).")
    def export_personal_data(self, request, actor, body):
        call(self.identity.spend_export_code, actor.user_id, body["sms_code"],
             **budgets.sms_request_options(request))
        deployed = deployed_services()
        parts = {service: call(getattr(self, service).personal_data, actor.user_id) if service in deployed
                 else dict.fromkeys(keys, []) for service, keys in PARTS.items()}
        return assemble(actor.user_id, iso_of_epoch(time.time()), parts)

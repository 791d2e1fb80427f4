"""Bodies and answers of the personal-data routes (shared/API.md "Personal data")."""
from marshmallow import Schema, fields, validate

from .identity_schemas import SmsCode
from .ids import Uuid


class PersonalDataCodeSchema(Schema):
    sms_code = SmsCode(required=True)  # of purpose `personal_data`, to the account's own mobile: one per request


class ErasureAcceptedSchema(Schema):
    erasure_id = Uuid(required=True, metadata={"description": "the same for a request repeated while it runs"})
    status = fields.String(required=True, validate=validate.OneOf(("pending", "done")),
                           metadata={"description": "pending until every service has confirmed the erasure"})

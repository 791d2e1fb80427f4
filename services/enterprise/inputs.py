"""The enterprise service's input checks, in the vocabulary of contracts/validators.py."""
from contracts import validators
from contracts.enterprise import ADDRESS_MAX, BUSINESS_SCOPE_MAX, NAME_MAX, REJECT_REASON_MAX, ROLES, STATUSES
from contracts.validators import check_fields
from services.common.application import MAX_ID_INPUT

MANUAL_FIELDS = {  # field -> (label in messages, max length)
    "name": ("企业名称", NAME_MAX),
    "address": ("注册地址", ADDRESS_MAX),
    "business_scope": ("经营范围", BUSINESS_SCOPE_MAX),
}
MANUAL_CHECKS = {field: validators.text(max_len, required_message=f"{label}必填: the registry has no entry for "
                                                                   "this USCC, so it must be entered by hand.")
                  for field, (label, max_len) in MANUAL_FIELDS.items()}
role_input = validators.one_of(ROLES)
status_input = validators.optional(validators.one_of(STATUSES))  # "" is no status: 400 as before
reason_input = validators.optional(validators.string(REJECT_REASON_MAX))
user_id_input = validators.text(MAX_ID_INPUT, required_message="A user id is required.")


def check_manual_fields(name, address, business_scope):
    """The fields an administrator types when the registry has no entry: all three, non-blank."""
    values = {"name": name, "address": address, "business_scope": business_scope}
    return check_fields({field: (check, values[field]) for field, check in MANUAL_CHECKS.items()},
                        message="The registry has no entry for this USCC: enter the enterprise's details.")

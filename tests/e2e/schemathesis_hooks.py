"""schemathesis hooks of tests/e2e/test_openapi_fuzz.py.

- Strategies for the document's own string formats (gateway/field_docs.py), so that generated
  "valid" ID numbers and USCCs are valid (check digit, province, birth date), as the document says.
- A check stricter than positive_data_acceptance where it matters: a request the document calls
  valid may break a business rule (a wrong SMS code is 400 SMS_CODE_INVALID; the config lets
  those statuses through), but the gateway's own 400 VALIDATION_ERROR for it means the document
  under-describes an input rule.
"""
import base64
import json
from datetime import date, datetime, timedelta, timezone

import schemathesis
from hypothesis import strategies as st

from contracts import validators
from contracts.pages import read_cursor
from contracts.validators import PROVINCES, USCC_ALPHABET, id_check_digit, uscc_check_character
from gateway.identity_schemas import _account
from services.card.inputs import certificate_input, signature_input
from eport_card.devca import create_ca

DIGITS = "0123456789"
# Data-dependent rules the document states in words: fields the service asks for only sometimes.
CONDITIONAL_FIELDS = {
    # an administrator registering an enterprise the registry does not know gives it by hand (API.md)
    ("POST", "/api/v1/associations"): {"name", "address", "business_scope"},
    ("POST", "/api/v1/admin-claims"): {"name", "address", "business_scope"},  # as an association (API.md)
}


# Fields of the document's own formats (gateway/field_docs.py), by name, and the check that says
# whether a value is of that format: a value that is not was invalid by the document, whatever its
# pattern let through, and its VALIDATION_ERROR is right.
FORMAT_CHECKS = {"id_number": validators.resident_id, "account": _account, "uscc": validators.uscc,
                 "certificate": certificate_input, "signature": signature_input,
                 "cursor": lambda value: read_cursor("no list answered it", value)}


@st.composite
def resident_ids(draw):
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date.today()))
    first17 = (draw(st.sampled_from(sorted(PROVINCES))) + draw(st.text(DIGITS, min_size=4, max_size=4))
               + born.strftime("%Y%m%d") + draw(st.text(DIGITS, min_size=3, max_size=3)))
    return first17 + id_check_digit(first17)


@st.composite
def usccs(draw):
    first17 = draw(st.text(USCC_ALPHABET, min_size=17, max_size=17))
    return first17 + uscc_check_character(first17)


def _instants():
    offsets = st.integers(min_value=-12 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
    return st.builds(lambda moment, tz: moment.replace(tzinfo=tz).isoformat(),
                     st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1)), offsets)


def _certificates():
    # a few real certificates (not of the platform's CA: 400 CERTIFICATE_UNTRUSTED is the business answer)
    return st.sampled_from([create_ca(f"schemathesis {n}").cert_pem for n in range(3)])


schemathesis.openapi.format("resident-id", resident_ids())
schemathesis.openapi.format("pem-certificate", _certificates())
schemathesis.openapi.format("card-signature", st.binary(min_size=1, max_size=512).map(
    lambda raw: base64.b64encode(raw).decode()))
schemathesis.openapi.format("uscc", usccs())
schemathesis.openapi.format("date-time", _instants())  # ISO 8601 with an offset, as the API says
# a cursor is what a list answered (gateway/field_docs.py): none made up is one; "" is the first page
schemathesis.openapi.format("page-cursor", st.just(""))


def _of_its_format(name, case):
    body = case.body if isinstance(case.body, dict) and name in case.body else case.query
    check = FORMAT_CHECKS.get(name)
    if check is None or not isinstance(body, dict) or name not in body:
        return True  # not a field of a format of ours: its VALIDATION_ERROR is the document's fault
    try:
        check(body[name])
    except (ValueError, TypeError):
        return False
    return True


@schemathesis.check
def validation_error_only_for_invalid_data(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        return None
    if case.operation.body and not isinstance(case.body, dict):
        return None  # every body of the document is an object: this one was not valid
    try:
        error = json.loads(response.content)["error"]
    except (ValueError, KeyError, TypeError):
        return None
    if error.get("code") != "VALIDATION_ERROR":
        return None
    fields = set(error.get("details") or {})
    if fields and fields <= CONDITIONAL_FIELDS.get((case.operation.method.upper(), case.operation.path), set()):
        return None
    if fields and all(not _of_its_format(name, case) for name in fields):
        return None
    raise AssertionError(f"A request valid by the document got VALIDATION_ERROR: {error.get('details')}")

"""What the gateway's input checks accept, as JSON Schema for /openapi.json.

Each pattern says exactly what its check lets through: the checks strip the blanks around a value
before they look at it (str.strip: BLANK), and compare digits as ASCII. What a pattern cannot say
(an ID number's check digit, birth date and province; a USCC's check character) is a `format` of
the document's own, described in it: `resident-id`, `uscc`. tests/unit/test_openapi_document.py
holds the patterns to the checks.
"""
from contracts.card import CARD_NO_RE, PEM_CERTIFICATE_RE, SIGNATURE_RE
from contracts.envelope import CORRELATION_ID_PATTERN
from contracts.validators import NAME_LETTER

# what str.strip() removes: Python's whitespace, written out (JSON Schema's \s is not the same set)
_BLANKS = "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
BLANK = f"[{_BLANKS}]*"
_LETTER = NAME_LETTER


def stripped(core):
    return f"^{BLANK}{core}{BLANK}$"


MOBILE = {"pattern": stripped("1[3-9][0-9]{9}"), "example": "13306506117"}
RESIDENT_ID = {"pattern": stripped("[0-9]{17}[0-9Xx]"), "format": "resident-id", "example": "11010519491231002X"}
USCC = {"pattern": stripped("[0-9A-HJ-NPQRTUWXY]{18}"), "format": "uscc", "example": "913300007458363392"}
PERSON_NAME = {"pattern": stripped(f"[{_LETTER}][{_LETTER} ·•.\\-]{{0,28}}[{_LETTER}]"), "example": "张三"}
SMS_CODE = {"pattern": stripped("[0-9]{6}"), "example": "950339"}
CARD_NO = {"pattern": stripped(CARD_NO_RE.pattern), "example": "8800000012345"}
ACCOUNT = {"anyOf": [{"pattern": MOBILE["pattern"]}, {"pattern": RESIDENT_ID["pattern"], "format": "resident-id"}]}
NOT_BLANK = {"pattern": f"[^{_BLANKS}]"}  # a check that strips its input, then wants something left
PEM_CERTIFICATE = {"pattern": stripped(PEM_CERTIFICATE_RE.pattern), "format": "pem-certificate"}
CARD_SIGNATURE = {"pattern": stripped(SIGNATURE_RE.pattern), "format": "card-signature"}
REQUEST_ID = {"pattern": CORRELATION_ID_PATTERN}
PAGE_CURSOR = {"format": "page-cursor"}
ID = {"format": "uuid", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"}  # canonical_uuid

FORMATS = {
    "resident-id": "a resident ID number (GB 11643-1999): 17 digits then a digit or X, whose first two digits "
                   "name a province (GB/T 2260), whose digits 7 to 14 are a birth date from 1900 to today, "
                   "and whose last character is the check digit of the first 17",
    "uscc": "a unified social credit code (GB 32100-2015): 18 characters of 0-9 and A-Z but I, O, Z, S, V, "
            "the last the check character of the first 17",
    "pem-certificate": "an X.509 certificate in PEM (any block of this shape is taken; one that is no certificate "
                       "of the e-port CA is 400 CERTIFICATE_UNTRUSTED)",
    "card-signature": "strict base64 (padded) of the card's DER ECDSA signature",
    "page-cursor": "a next_cursor this same list answered the same caller (opaque); any other is 400 "
                   "VALIDATION_ERROR naming `cursor`",
}

"""The one vocabulary of input checks, shared by the gateway's schemas and the owning services.

A check takes the caller's value and returns it normalised, or raises ValueError with a message
for the user. `check_field` and `check_fields` turn those into 400 VALIDATION_ERROR naming the
field (every field at fault at once). The national identifiers (resident ID, mobile, name, USCC)
are checks; `string`, `text`, `one_of` and `optional` make the others.
"""
import re
import uuid
from datetime import date

from .errors import ValidationFailed

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"  # GB 11643-1999
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015: no I, O, Z, S, V
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# The first two digits of an ID number: a province-level division of GB/T 2260, plus 83, which the
# residence permits of Taiwan residents carry (81 and 82 those of Hong Kong and Macao residents).
PROVINCES = frozenset({"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
                       "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
                       "65", "71", "81", "82", "83"})
MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")  # ASCII digits: \d would take any script's
# The CJK ideographs of Unicode 15.1 (names carry rare ones: 𠀋 U+2000B is Extension B): the
# Unified Ideographs and their Extensions A to I, and the compatibility ideographs
IDEOGRAPHS = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFA6D), (0xFA70, 0xFAD9), (0x20000, 0x2A6DF),
              (0x2A700, 0x2B739), (0x2B740, 0x2B81D), (0x2B820, 0x2CEA1), (0x2CEB0, 0x2EBE0), (0x2EBF0, 0x2EE5D),
              (0x2F800, 0x2FA1D), (0x30000, 0x3134A), (0x31350, 0x323AF))
# a name's letters, as a character class's inside (the characters themselves: the OpenAPI
# document's pattern, gateway/field_docs.py, is this too, and ECMA-262 has no \U escape)
NAME_LETTER = "".join(f"{chr(low)}-{chr(high)}" for low, high in IDEOGRAPHS) + "A-Za-z"
NAME_RE = re.compile(f"[{NAME_LETTER}][{NAME_LETTER} ·•.\\-]*[{NAME_LETTER}]")


def id_check_digit(first17):
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=False)) % 11]


def resident_id(value):
    if not isinstance(value, str):
        raise ValueError("Must be a string.")
    v = value.strip().upper()
    if len(v) != 18:
        raise ValueError("A resident ID number has 18 characters.")
    if not v.isascii() or not v[:17].isdigit() or not (v[17].isdigit() or v[17] == "X"):
        raise ValueError("A resident ID number is 17 digits followed by a digit or X.")
    if v[:2] not in PROVINCES:
        raise ValueError("The first two digits of the ID number name no province (GB/T 2260).")
    try:
        born = date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        raise ValueError("The date of birth in the ID number is not a valid date.") from None
    if born.year < 1900 or born > date.today():
        raise ValueError("The date of birth in the ID number is out of range.")
    if id_check_digit(v[:17]) != v[17]:
        raise ValueError("The check digit of the ID number is wrong.")
    return v


def canonical_uuid(value):
    """An id as the platform writes it: a lower-case UUID, 8-4-4-4-12 hex digits. Any other spelling
    of the same UUID (upper case, braces, urn:uuid:, no hyphens) is refused, not normalised: kept as
    given it would key a second record beside the first."""
    if not isinstance(value, str) or len(value) != 36:
        raise ValueError("Must be a canonical UUID: 36 lower-case characters, 8-4-4-4-12 hex digits.")
    try:
        canonical = str(uuid.UUID(value))
    except ValueError:
        canonical = None
    if canonical != value:
        raise ValueError("Must be a canonical UUID: 36 lower-case characters, 8-4-4-4-12 hex digits.")
    return value


def mobile(value):
    if not isinstance(value, str):
        raise ValueError("Must be a string.")
    v = value.strip()
    if not MOBILE_RE.fullmatch(v):
        raise ValueError("A mobile number is 11 digits starting with 13 to 19.")
    return v


def person_name(value):
    if not isinstance(value, str):
        raise ValueError("Must be a string.")
    v = value.strip()
    if not 2 <= len(v) <= 30:
        raise ValueError("A name has 2 to 30 characters.")
    if not NAME_RE.fullmatch(v):
        raise ValueError("A name holds Chinese or Latin letters, with · between parts.")
    return v


def uscc_check_character(first17):
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=False))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc(value):
    if not isinstance(value, str):
        raise ValueError("Must be a string.")
    v = value.strip()
    if len(v) != 18:
        raise ValueError("A unified social credit code has 18 characters.")
    bad = sorted({c for c in v if c not in USCC_ALPHABET})
    if bad:
        raise ValueError(f"Characters not allowed in a unified social credit code: {''.join(bad)} "
                         "(digits and upper-case letters except I, O, Z, S, V).")
    if uscc_check_character(v[:17]) != v[17]:
        raise ValueError("The check character of the unified social credit code is wrong.")
    return v


# -- the general checks ------------------------------------------------------------------------------
def string(max_length, min_length=1):
    """A string of `min_length` to `max_length` characters, taken as it is (passwords, tokens)."""
    def check(value):
        if not isinstance(value, str):
            raise ValueError("Must be a string.")
        if not min_length <= len(value) <= max_length:
            raise ValueError(f"Must have {min_length} to {max_length} characters.")
        return value
    return check


def text(max_length, required_message="Required."):
    """Text of at most `max_length` characters that is not blank; answered without the blanks
    around it (ids, names typed into a form)."""
    def check(value):
        if value is None:
            raise ValueError(required_message)
        if not isinstance(value, str):
            raise ValueError("Must be a string.")
        v = value.strip()
        if not v:
            raise ValueError(required_message)
        if len(v) > max_length:
            raise ValueError(f"At most {max_length} characters.")
        return v
    return check


def one_of(choices):
    def check(value):
        if value not in choices:
            raise ValueError(f"Must be one of: {', '.join(choices)}.")
        return value
    return check


def optional(check, default=None, missing=(None,)):
    """`check`, but a value in `missing` (None; say `missing=(None, "")` for query strings) is `default`."""
    def check_optional(value):
        if any(value is m or (isinstance(value, str) and value == m) for m in missing):
            return default
        return check(value)
    return check_optional


def boolean(value):
    if not isinstance(value, bool):
        raise ValueError("Not a boolean.")
    return value


def check_field(name, check, value):
    """`check(value)`, or 400 VALIDATION_ERROR naming the field."""
    try:
        return check(value)
    except ValueError as exc:
        raise ValidationFailed(details={name: [str(exc)]}) from None


def check_fields(checks, message="Invalid input"):
    """{field: check(value)} of `checks` ({field: (check, value)}), or one 400 VALIDATION_ERROR
    that names every field at fault."""
    values, errors = {}, {}
    for name, (check, value) in checks.items():
        try:
            values[name] = check(value)
        except ValueError as exc:
            errors[name] = [str(exc)]
    if errors:
        raise ValidationFailed(message, errors)
    return values

"""The identity service's input checks, in the vocabulary of contracts/validators.py."""
import re
import unicodedata

from contracts import validators
from contracts.identity import ID_TYPES, PASSWORD_INPUT_MAX, SMS_PURPOSES

SMS_CODE_RE = re.compile(r"\d{6}")

purpose_input = validators.one_of(SMS_PURPOSES)
password_input = validators.string(PASSWORD_INPUT_MAX)
_one_id_type = validators.one_of(ID_TYPES)


def sms_code_input(value):
    if not isinstance(value, str) or not SMS_CODE_RE.fullmatch(value.strip()):
        raise ValueError("An SMS code is 6 digits.")
    return value.strip()


def id_type_input(value):
    return ID_TYPES[0] if value is None else _one_id_type(value)


def account_kind(value):
    """('mobile' | 'id_number', normalised value) of a login account, or ValueError."""
    if not isinstance(value, str):
        raise ValueError("Must be a string.")
    v = value.strip()
    if validators.MOBILE_RE.fullmatch(v):
        return "mobile", v
    try:
        return "id_number", validators.resident_id(v)
    except ValueError:
        raise ValueError("Give the mobile number or the resident ID number of the account.") from None


_NAME_DOTS = str.maketrans({"•": "·", "・": "·", "･": "·", ".": "·", "．": "·", "‧": "·", "∙": "·"})


def normalised_name(name):
    """A name as compared with a card holder's: NFKC, one kind of middle dot, case and spaces folded."""
    folded = unicodedata.normalize("NFKC", name).translate(_NAME_DOTS).casefold()
    return " ".join(folded.split()).replace(" · ", "·").replace(" ·", "·").replace("· ", "·")

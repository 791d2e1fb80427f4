"""The card service's input checks, in the vocabulary of contracts/validators.py."""
import base64

from contracts import card as contract
from contracts import validators

MAX_ID_INPUT = 128
purpose_input = validators.one_of(contract.CHALLENGE_PURPOSES)
id_input = validators.text(MAX_ID_INPUT)


certificate_input = contract.certificate  # its shape; whether the CA issued it is the trust check's


def signature_input(value):
    """The signature's bytes (1 to 513), from strict base64."""
    return base64.b64decode(contract.signature(value), validate=True)

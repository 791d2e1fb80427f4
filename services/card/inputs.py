"""The card service's input checks, in the vocabulary of contracts/validators.py."""
import base64
import binascii

from contracts import card as contract
from contracts import validators

from . import certs

MAX_ID_INPUT = 128
MAX_CERTIFICATE_INPUT = 16384
MAX_SIGNATURE_INPUT = 4096
MAX_SIGNATURE_BYTES = 512

purpose_input = validators.one_of(contract.CHALLENGE_PURPOSES)
id_input = validators.text(MAX_ID_INPUT)


def certificate_input(value):
    pem = validators.text(MAX_CERTIFICATE_INPUT)(value)
    try:
        certs.load_certificate(pem)
    except certs.CertificateMalformed:
        raise ValueError("Not a PEM X.509 certificate.") from None
    return pem


def signature_input(value):
    """The signature's bytes, from base64."""
    text = validators.text(MAX_SIGNATURE_INPUT)(value)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("Not base64.") from None
    if not 0 < len(raw) <= MAX_SIGNATURE_BYTES:
        raise ValueError(f"A card signature has 1 to {MAX_SIGNATURE_BYTES} bytes.")
    return raw

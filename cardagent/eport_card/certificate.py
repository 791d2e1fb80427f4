"""How a card certificate carries the card's identity: the layout the card CA writes (devca.py)
and the card service reads back (services/card/certs.py, which owns the checks):

  subject serialNumber (2.5.4.5)            card number
  subject commonName (2.5.4.3)              holder name
  subject OID_CARD_TYPE (UTF8String)        "legal_person" or "operator"
  subject OID_HOLDER_ID_NUMBER (UTF8String) holder's national ID number
  subject OID_USCC (UTF8String)             the enterprise's unified social credit code
The three private OIDs hang under a UUID arc (2.25.<uuid as integer>, ITU-T X.667), which
needs no registration and cannot collide with anyone else's.

It lives here, beside the tools, because the tools cannot import the platform; the card service
imports these few names and nothing else of this package (tests/unit/test_card_agent_package.py).
"""
from __future__ import annotations

from cryptography import x509

EPORT_ARC = "2.25.274186378242396036936231471594943213670"
OID_CARD_TYPE = x509.ObjectIdentifier(EPORT_ARC + ".1")
OID_HOLDER_ID_NUMBER = x509.ObjectIdentifier(EPORT_ARC + ".2")
OID_USCC = x509.ObjectIdentifier(EPORT_ARC + ".3")

CARD_TYPES = ("legal_person", "operator")


def subject_field(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    """The one text value of `oid` in the subject, or None when it is missing, repeated or empty."""
    values = cert.subject.get_attributes_for_oid(oid)
    if len(values) != 1 or not isinstance(values[0].value, str) or not values[0].value:
        return None
    return values[0].value

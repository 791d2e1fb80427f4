"""Integration events published by the card service on exchange `card.events`, and the card
vocabulary the gateway and the card service share.

Payloads carry ids, the card number and the card type: never the holder's name or ID number
(they are in the card's certificate, which stays in the card service).
"""
import re

from marshmallow import Schema, fields, validate

from .envelope import Id, Timestamp, event_type

SOURCE = "card"

LEGAL_PERSON, OPERATOR = CARD_TYPES = ("legal_person", "operator")  # 法人卡, 操作员卡
CHALLENGE_PURPOSES = ("bind", "login", "identity")  # identity: a claim of the ID number (实名认证)
UNBIND_REASONS = ("unbound", "membership_ended", "revoked", "expired", "erased")
CARD_NO_RE = re.compile(r"[0-9A-Za-z-]{1,64}")
# A card's answers are checked for their shape only: whether a PEM block is a certificate of the e-port CA,
# and whether the signature is the card's, is the card service's answer (400 CERTIFICATE_UNTRUSTED,
# CARD_SIGNATURE_INVALID), so that every value the OpenAPI document calls valid passes the input checks.
CERTIFICATE_MAX = 16384
PEM_CERTIFICATE_RE = re.compile(r"-----BEGIN CERTIFICATE-----\r?\n(?:[A-Za-z0-9+/=]{1,76}\r?\n)+"
                                r"-----END CERTIFICATE-----")
SIGNATURE_MAX = 684  # characters of base64: 4 * ceil(512 / 3), a DER ECDSA signature has about 72 bytes
SIGNATURE_RE = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})")


def card_no(value):
    """The normalised card number (e-port card numbers are digits; letters and - are let through)."""
    if not isinstance(value, str):
        raise ValueError("Must be a string.")
    v = value.strip()
    if not CARD_NO_RE.fullmatch(v):
        raise ValueError("A card number is 1 to 64 letters, digits or '-'.")
    return v


def certificate(value):
    """The PEM block, stripped, when it has a certificate's shape (the document's pattern)."""
    v = _text(value, CERTIFICATE_MAX)
    if not PEM_CERTIFICATE_RE.fullmatch(v):
        raise ValueError("Not a PEM certificate block (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----).")
    return v


def signature(value):
    """The base64 text, stripped, when it is strict base64 of at most SIGNATURE_MAX characters."""
    v = _text(value, SIGNATURE_MAX)
    if not SIGNATURE_RE.fullmatch(v):
        raise ValueError("Not base64 (padded, without blanks inside).")
    return v


def _text(value, max_length):
    if not isinstance(value, str):
        raise ValueError("Must be a string.")
    v = value.strip()
    if not 0 < len(v) <= max_length:
        raise ValueError(f"1 to {max_length} characters.")
    return v


class CardPayload(Schema):
    enterprise_id = Id(required=True)
    user_id = Id(required=True)
    card_no = fields.String(required=True, metadata={"description": "the e-port IC card number",
                                                      "pattern": "^" + CARD_NO_RE.pattern + "$"})
    card_type = fields.String(required=True, validate=validate.OneOf(CARD_TYPES),
                              metadata={"description": "legal_person (法人卡) or operator (操作员卡)"})


class CardBoundPayload(CardPayload):
    association_id = Id(allow_none=True, load_default=None, metadata={
        "description": "the membership the card is bound to; added after v1"})
    role = fields.String(allow_none=True, load_default=None, metadata={
        "description": "admin or user: the member's role when binding; added after v1"})
    uscc = fields.String(allow_none=True, load_default=None, metadata={
        "description": "the enterprise the card's certificate names (always the enterprise's own); null for "
                       "bindings made before it was published; added after v1"})
    bound_at = Timestamp(allow_none=True, load_default=None, metadata={"description": "ISO 8601"})


class CardUnboundPayload(CardPayload):
    reason = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(UNBIND_REASONS),
                           metadata={"description": "unbound: the member unbound it (解除绑定); "
                                                    "membership_ended: the member was removed from the enterprise; "
                                                    "revoked: the CA revoked the card's certificate (CRL); "
                                                    "expired: the certificate's validity ended (notAfter); "
                                                    "erased: the holder's account was erased (UserErased), the "
                                                    "card is free to bind again; "
                                                    "revoked and expired added after v1, erased after v2"})


CARD_BOUND = event_type(SOURCE, "CardBound", CardBoundPayload,
                        "A member bound an IC card (whose holder is the account's registrant) to their "
                        "association with the enterprise; the card can now log in to that account.")
CARD_UNBOUND = event_type(SOURCE, "CardUnbound", CardUnboundPayload,
                          "The card is no longer bound to that association: card login with it fails.")

"""The card's behaviour, APDU in, APDU out (APDU.md). No sockets here."""
from __future__ import annotations

import logging
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography import x509

from .. import apdu
from ..apdu import response
from ..cardimage import CardImage, pin_matches

log = logging.getLogger(__name__)

HISTORICAL_BYTES = b"EPORT"


def _atr_t1(historical: bytes) -> bytes:
    # TS=3B, T0 announces TD1 and K historical bytes, TD1=80 (T=0, TD2 follows), TD2=01 (T=1);
    # TCK is mandatory once T=1 is offered: XOR of everything after TS.
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3B" + body + bytes([tck])


ATR = _atr_t1(HISTORICAL_BYTES)


class EportApplet:
    """One card: its image, the selected state and whether the PIN was verified since power-on.

    `persist` is called with the new image whenever the PIN retry counter changes, before the
    card answers, so pulling the card mid-VERIFY never gives an attempt back.
    """

    def __init__(self, image: CardImage, persist: Callable[[CardImage], None] = lambda _: None):
        self.image = image
        self._persist = persist
        self._key = serialization.load_pem_private_key(image.private_key_pem.encode(), password=None)
        if not isinstance(self._key, ec.EllipticCurvePrivateKey):
            raise ValueError("card key must be ECDSA")
        self._cert_der = x509.load_pem_x509_certificate(image.certificate_pem.encode()).public_bytes(
            serialization.Encoding.DER)
        self.selected = False
        self.pin_verified = False

    atr = ATR

    def power_on(self) -> None:
        self._forget_session()

    def power_off(self) -> None:
        self._forget_session()

    def reset(self) -> None:
        self._forget_session()

    def _forget_session(self) -> None:
        self.selected = False
        self.pin_verified = False

    def process(self, raw: bytes) -> bytes:
        try:
            cmd = apdu.parse_command(raw)
        except apdu.MalformedApdu:
            return response(apdu.SW_WRONG_LENGTH)
        if cmd.cla != apdu.CLA:
            return response(apdu.SW_CLA_NOT_SUPPORTED)
        handler = self._handlers.get(cmd.ins)
        if handler is None:
            return response(apdu.SW_INS_NOT_SUPPORTED)
        if cmd.ins != apdu.INS_SELECT and not self.selected:
            return response(apdu.SW_CONDITIONS_NOT_SATISFIED)
        try:
            return handler(self, cmd)
        except Exception:
            log.exception("card error on INS %02X", cmd.ins)
            return response(apdu.SW_UNKNOWN)

    def _select(self, cmd: apdu.Command) -> bytes:
        if cmd.p1 != apdu.P1_SELECT_BY_AID or cmd.p2 not in (apdu.P2_SELECT_FIRST, apdu.P2_SELECT_NO_FCI):
            return response(apdu.SW_INCORRECT_P1P2)
        if not cmd.data:
            return response(apdu.SW_WRONG_LENGTH)
        self._forget_session()
        if cmd.data != apdu.AID:
            return response(apdu.SW_FILE_NOT_FOUND)
        self.selected = True
        if cmd.p2 == apdu.P2_SELECT_NO_FCI:
            return response(apdu.SW_OK)
        fci = bytes([0x6F, 2 + len(apdu.AID), 0x84, len(apdu.AID)]) + apdu.AID
        return response(apdu.SW_OK, fci)

    def _verify(self, cmd: apdu.Command) -> bytes:
        if cmd.p1 != 0x00 or cmd.p2 != apdu.P2_PIN_REFERENCE:
            return response(apdu.SW_INCORRECT_P1P2)
        if len(cmd.data) > apdu.MAX_PIN_LENGTH:
            return response(apdu.SW_WRONG_LENGTH)
        if self.image.pin_blocked:
            self.pin_verified = False
            return response(apdu.SW_AUTH_BLOCKED)
        if not cmd.data:
            if self.pin_verified:
                return response(apdu.SW_OK)
            return response(apdu.SW_VERIFY_FAILED | self.image.pin_tries_left)
        # Count the attempt first (anti-tearing), give it back only on success.
        self._store_tries(self.image.pin_tries_left - 1)
        if pin_matches(self.image.pin, cmd.data):
            self._store_tries(self.image.pin_max_tries)
            self.pin_verified = True
            return response(apdu.SW_OK)
        self.pin_verified = False
        return response(apdu.SW_VERIFY_FAILED | self.image.pin_tries_left)

    def _store_tries(self, tries_left: int) -> None:
        if tries_left != self.image.pin_tries_left:
            updated = self.image.with_tries_left(tries_left)
            self._persist(updated)
            self.image = updated

    def _get_data(self, cmd: apdu.Command) -> bytes:
        if cmd.data:
            return response(apdu.SW_WRONG_LENGTH)
        if cmd.p1p2 != apdu.P1P2_CARD_INFO:
            return response(apdu.SW_DATA_NOT_FOUND)
        info = apdu.encode_tlv([
            (apdu.TAG_CARD_NO, self.image.card_no.encode("ascii")),
            (apdu.TAG_CARD_TYPE, self.image.card_type.encode("ascii")),
            (apdu.TAG_HOLDER_NAME, self.image.holder_name.encode("utf-8")[:0x7F]),
            (apdu.TAG_CERTIFICATE_LENGTH, len(self._cert_der).to_bytes(2, "big")),
        ])
        return response(apdu.SW_OK, info)

    def _read_binary(self, cmd: apdu.Command) -> bytes:
        if cmd.p1 & 0x80:
            return response(apdu.SW_INCORRECT_P1P2)  # short-EF addressing is not offered
        if cmd.data or cmd.le is None:
            return response(apdu.SW_WRONG_LENGTH)
        offset, size = cmd.p1p2, len(self._cert_der)
        if offset >= size:
            return response(apdu.SW_WRONG_OFFSET)
        chunk = self._cert_der[offset:offset + min(cmd.le, apdu.MAX_READ_CHUNK)]
        at_end = offset + len(chunk) == size
        return response(apdu.SW_END_OF_FILE if at_end and len(chunk) < cmd.le else apdu.SW_OK, chunk)

    def _internal_authenticate(self, cmd: apdu.Command) -> bytes:
        if cmd.p1 != 0x00 or cmd.p2 != 0x00:
            return response(apdu.SW_INCORRECT_P1P2)
        if not 1 <= len(cmd.data) <= apdu.MAX_CHALLENGE:
            return response(apdu.SW_WRONG_LENGTH)
        if not self.pin_verified:
            return response(apdu.SW_SECURITY_NOT_SATISFIED)
        return response(apdu.SW_OK, self._key.sign(cmd.data, ec.ECDSA(hashes.SHA256())))

    _handlers = {
        apdu.INS_SELECT: _select,
        apdu.INS_VERIFY: _verify,
        apdu.INS_GET_DATA: _get_data,
        apdu.INS_READ_BINARY: _read_binary,
        apdu.INS_INTERNAL_AUTHENTICATE: _internal_authenticate,
    }

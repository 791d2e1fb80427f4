"""Talking to the card through PC/SC (pyscard). pyscard is imported lazily: the gateway
client and the server side must import without it."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .. import apdu
from ..cardimage import PIN_MAX_TRIES
from .errors import (AgentError, CardBusy, CardError, CardNotFound, CardRemoved, PcscUnavailable,
                     PinBlocked, PinNotVerified, WrongPin)

# PC/SC results that mean the card is gone or the session with it is lost.
_SCARD_E_NOT_TRANSACTED = 0x80100016
_SCARD_E_NO_SMARTCARD = 0x8010000C
_SCARD_W_REMOVED_CARD = 0x80100069
_SCARD_W_UNPOWERED_CARD = 0x80100067
_SCARD_W_RESET_CARD = 0x80100068
_SCARD_E_SHARING_VIOLATION = 0x8010000B
_LOST = {_SCARD_E_NOT_TRANSACTED, _SCARD_E_NO_SMARTCARD, _SCARD_W_REMOVED_CARD,
         _SCARD_W_UNPOWERED_CARD, _SCARD_W_RESET_CARD}


@dataclass(frozen=True)
class CardInfo:
    card_no: str
    card_type: str
    holder_name: str
    certificate_length: int


def list_readers() -> list[str]:
    try:
        from smartcard.Exceptions import SmartcardException
        from smartcard.pcsc.PCSCExceptions import BaseSCardException
        from smartcard.System import readers
    except ImportError:
        raise PcscUnavailable("pyscard is not installed (pip install 'pyscard==2.3.*')") from None
    try:
        return [str(r) for r in readers()]
    except (SmartcardException, BaseSCardException) as exc:
        raise PcscUnavailable(f"PC/SC service not available: {exc}") from None


def find_card(timeout: float = 0.0, reader: str | None = None, poll: float = 0.1) -> CardSession:
    """The first reader (or `reader`, by default CARD_READER's) holding a card that answers SELECT
    of the e-port AID.

    Waits up to `timeout` seconds for one to appear.
    """
    reader = reader if reader is not None else (os.environ.get("CARD_READER") or None)
    deadline = time.monotonic() + timeout
    while True:
        names = list_readers()
        busy = False
        for name in names:
            if reader is not None and name != reader:
                continue
            try:
                session = CardSession.open(name)
            except CardBusy:
                busy = True
                continue
            except (CardRemoved, CardNotFound):
                continue
            return session
        if time.monotonic() >= deadline:
            if busy:
                raise CardBusy("the e-port card is in use by another program")
            if not names:
                raise PcscUnavailable("no smart card reader found")
            raise CardNotFound(f"no e-port card in {reader or 'any reader'} ({', '.join(names)})")
        time.sleep(poll)


class CardSession:
    """An exclusive connection to one card with the e-port applet selected.

    Exclusive, and closed with a card reset, so no other program can use the PIN state this
    session verified.
    """

    def __init__(self, reader: str, connection):
        self.reader = reader
        self._connection = connection

    @classmethod
    def open(cls, reader_name: str) -> CardSession:
        from smartcard.Exceptions import CardConnectionException, NoCardException
        from smartcard.scard import SCARD_RESET_CARD, SCARD_SHARE_EXCLUSIVE
        from smartcard.System import readers
        target = next((r for r in readers() if str(r) == reader_name), None)
        if target is None:
            raise CardNotFound(f"reader {reader_name!r} is gone")
        connection = target.createConnection()
        try:
            connection.connect(mode=SCARD_SHARE_EXCLUSIVE, disposition=SCARD_RESET_CARD)
        except NoCardException:
            raise CardNotFound(f"no card in {reader_name}") from None
        except CardConnectionException as exc:
            if getattr(exc, "hresult", None) == _SCARD_E_SHARING_VIOLATION:
                raise CardBusy(f"the card in {reader_name} is in use by another program") from None
            raise CardRemoved(f"cannot connect to the card in {reader_name}: {exc}") from None
        session = cls(reader_name, connection)
        try:
            _, sw = session.transmit(apdu.build_command(
                apdu.INS_SELECT, apdu.P1_SELECT_BY_AID, apdu.P2_SELECT_NO_FCI, apdu.AID))
        except AgentError:
            session.close()
            raise
        if sw != apdu.SW_OK:
            session.close()
            raise CardNotFound(f"the card in {reader_name} has no e-port applet (SW {sw:04X})")
        return session

    def transmit(self, command: bytes) -> tuple[bytes, int]:
        from smartcard.Exceptions import CardConnectionException
        if self._connection is None:
            raise CardRemoved("card session is closed")
        try:
            data, sw1, sw2 = self._connection.transmit(list(command))
        except CardConnectionException as exc:
            hresult = getattr(exc, "hresult", None)
            if hresult is not None and (hresult & 0xFFFFFFFF) in _LOST:
                raise CardRemoved("the card was removed or stopped answering") from None
            raise AgentError(f"reader error: {exc}") from None
        return bytes(data), (sw1 << 8) | sw2

    def read_info(self) -> CardInfo:
        data, sw = self.transmit(apdu.build_command(
            apdu.INS_GET_DATA, apdu.P1P2_CARD_INFO >> 8, apdu.P1P2_CARD_INFO & 0xFF, le=256))
        if sw != apdu.SW_OK:
            raise CardError("card refused GET DATA", sw)
        try:
            fields = apdu.decode_tlv(data)
            return CardInfo(
                card_no=fields[apdu.TAG_CARD_NO].decode("ascii"),
                card_type=fields[apdu.TAG_CARD_TYPE].decode("ascii"),
                holder_name=fields.get(apdu.TAG_HOLDER_NAME, b"").decode("utf-8", "replace"),
                certificate_length=int.from_bytes(fields[apdu.TAG_CERTIFICATE_LENGTH], "big"),
            )
        except (KeyError, ValueError) as exc:
            raise AgentError(f"card info is malformed: {exc}") from None

    def read_certificate(self) -> str:
        """The card's certificate as PEM, read in chunks with READ BINARY."""
        der = bytearray()
        while len(der) <= 0x7FFF:
            data, sw = self.transmit(apdu.build_command(
                apdu.INS_READ_BINARY, len(der) >> 8, len(der) & 0xFF, le=apdu.MAX_READ_CHUNK))
            if sw == apdu.SW_WRONG_OFFSET and der:
                break
            if sw not in (apdu.SW_OK, apdu.SW_END_OF_FILE):
                raise CardError("card refused READ BINARY", sw)
            der += data
            if sw == apdu.SW_END_OF_FILE or not data:
                break
        try:
            cert = x509.load_der_x509_certificate(bytes(der))
        except ValueError as exc:
            raise AgentError(f"certificate on the card is malformed: {exc}") from None
        return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def pin_tries_left(self) -> int:
        """Tries left before the PIN blocks (0 when blocked); does not spend a try."""
        _, sw = self.transmit(apdu.build_command(apdu.INS_VERIFY, 0x00, apdu.P2_PIN_REFERENCE))
        if sw == apdu.SW_OK:
            return PIN_MAX_TRIES  # verified in this session, and a success refills the counter
        if sw == apdu.SW_AUTH_BLOCKED:
            return 0
        if sw & 0xFFF0 == apdu.SW_VERIFY_FAILED:
            return sw & 0x0F
        raise CardError("card refused the PIN status query", sw)

    def verify_pin(self, pin: str) -> None:
        pin_bytes = pin.encode("ascii", "replace")
        if not 1 <= len(pin_bytes) <= apdu.MAX_PIN_LENGTH:
            raise ValueError(f"PIN must be 1–{apdu.MAX_PIN_LENGTH} characters")
        _, sw = self.transmit(apdu.build_command(apdu.INS_VERIFY, 0x00, apdu.P2_PIN_REFERENCE, pin_bytes))
        if sw == apdu.SW_OK:
            return
        if sw == apdu.SW_AUTH_BLOCKED or sw == apdu.SW_VERIFY_FAILED:
            raise PinBlocked(sw)
        if sw & 0xFFF0 == apdu.SW_VERIFY_FAILED:
            raise WrongPin(sw & 0x0F, sw)
        raise CardError("card refused VERIFY", sw)

    def sign(self, challenge_bytes: bytes) -> bytes:
        """DER ECDSA signature over SHA-256(challenge) by the card's key; needs verify_pin first."""
        if not 1 <= len(challenge_bytes) <= apdu.MAX_CHALLENGE:
            raise ValueError(f"the card signs challenges of 1–{apdu.MAX_CHALLENGE} bytes")
        data, sw = self.transmit(apdu.build_command(
            apdu.INS_INTERNAL_AUTHENTICATE, 0x00, 0x00, bytes(challenge_bytes), le=256))
        if sw == apdu.SW_SECURITY_NOT_SATISFIED:
            raise PinNotVerified(sw)
        if sw != apdu.SW_OK:
            raise CardError("card refused INTERNAL AUTHENTICATE", sw)
        return data

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.disconnect()
        except Exception:
            pass  # a card already gone cannot be reset; nothing is left to release
        try:
            connection.release()
        except Exception:
            pass

    def __enter__(self) -> CardSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

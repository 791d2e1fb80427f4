"""The card operations of the local mode, one at a time, and their failures in the API's error shape."""
from __future__ import annotations

import base64
import threading

from .errors import AgentError, CardNotFound, CardRemoved, PcscUnavailable, PinBlocked, WrongPin


def agent_error(exc: Exception) -> dict:
    """An agent failure in the API's error shape, with a code the console's table knows."""
    if isinstance(exc, WrongPin):
        return {"code": "WRONG_PIN", "message": str(exc), "details": {"tries_left": exc.tries_left}}
    if isinstance(exc, PinBlocked):
        return {"code": "PIN_BLOCKED", "message": str(exc), "details": {}}
    if isinstance(exc, (CardNotFound, PcscUnavailable, CardRemoved)):
        return {"code": "CARD_NOT_FOUND", "message": str(exc), "details": {}}
    return {"code": "CARD_ERROR", "message": str(exc), "details": {}}


class CardSigner:
    """The card operations, one at a time (the card allows one exclusive session)."""

    def __init__(self, card_timeout: float = 5.0, open_card=None):
        from .reader import find_card
        self._open = open_card or (lambda: find_card(timeout=card_timeout))
        self._lock = threading.Lock()

    def info(self) -> dict:
        with self._lock, self._open() as session:
            info = session.read_info()
            return {"card_no": info.card_no, "card_type": info.card_type, "holder_name": info.holder_name,
                    "reader": session.reader}

    def sign(self, nonce: bytes, card_no: str, pin: str) -> dict:
        """The proof of `card_no`'s card over `nonce`; CardNoMismatch when another card is in the reader."""
        with self._lock, self._open() as session:
            info = session.read_info()
            if info.card_no != card_no:
                raise CardNoMismatch(f"the card in the reader is {info.card_no}")
            certificate = session.read_certificate()
            session.verify_pin(pin)
            signature = session.sign(nonce)
        return {"card_no": info.card_no, "card_type": info.card_type, "certificate": certificate,
                "signature": base64.b64encode(signature).decode("ascii")}


class CardNoMismatch(AgentError):
    pass

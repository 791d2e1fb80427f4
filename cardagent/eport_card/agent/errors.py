"""What can go wrong beside the reader, as exceptions a caller can tell apart."""
from __future__ import annotations


class AgentError(Exception):
    """Base of every agent error."""


class PcscUnavailable(AgentError):
    """No PC/SC service (pcscd not running) or no reader attached."""


class CardNotFound(AgentError):
    """No reader holds a card with the e-port applet."""


class CardBusy(AgentError):
    """Another program holds the card exclusively."""


class CardRemoved(AgentError):
    """The card left the reader (or stopped answering) during the session."""


class CardError(AgentError):
    """The card refused a command; `sw` is its status word."""

    def __init__(self, message: str, sw: int):
        super().__init__(f"{message} (SW {sw:04X})")
        self.sw = sw


class WrongPin(CardError):
    def __init__(self, tries_left: int, sw: int):
        super().__init__(f"wrong PIN, {tries_left} tries left", sw)
        self.tries_left = tries_left


class PinBlocked(CardError):
    def __init__(self, sw: int):
        super().__init__("PIN blocked after too many wrong attempts", sw)


class PinNotVerified(CardError):
    def __init__(self, sw: int):
        super().__init__("the card signs only after the PIN is verified", sw)


class GatewayError(AgentError):
    """An error answer of the gateway ({"error": {code, message, details}}), or no answer."""

    def __init__(self, status: int | None, code: str, message: str, details: dict | None = None):
        super().__init__(f"{code}: {message}" + (f" (HTTP {status})" if status else ""))
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}

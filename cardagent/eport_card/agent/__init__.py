"""What a user runs beside the card reader: card access over PC/SC and the gateway client.

    eport-card-agent readers | info | bind | claim-admin | login | serve    (or python -m eport_card.agent)
"""
from .errors import (AgentError, CardBusy, CardError, CardNotFound, CardRemoved, GatewayError,
                     PcscUnavailable, PinBlocked, PinNotVerified, WrongPin)
from .gateway_client import DEFAULT_GATEWAY, GatewayClient, bind, claim_admin, login
from .purposes import PURPOSES, UnknownPurpose, pin_question
from .reader import CardInfo, CardSession, find_card, list_readers

__all__ = [
    "AgentError", "CardBusy", "CardError", "CardNotFound", "CardRemoved", "GatewayError",
    "PcscUnavailable", "PinBlocked", "PinNotVerified", "WrongPin",
    "DEFAULT_GATEWAY", "GatewayClient", "bind", "claim_admin", "login",
    "PURPOSES", "UnknownPurpose", "pin_question",
    "CardInfo", "CardSession", "find_card", "list_readers",
]

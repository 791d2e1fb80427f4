"""What a user runs beside the card reader: card access over PC/SC and the gateway client.

    python -m services.card.agent readers | info | bind | claim-admin | login | serve
"""
from .errors import (AgentError, CardBusy, CardError, CardNotFound, CardRemoved, GatewayError,
                     PcscUnavailable, PinBlocked, PinNotVerified, WrongPin)
from .gateway_client import DEFAULT_GATEWAY, GatewayClient, bind, claim_admin, login
from .reader import CardInfo, CardSession, find_card, list_readers

__all__ = [
    "AgentError", "CardBusy", "CardError", "CardNotFound", "CardRemoved", "GatewayError",
    "PcscUnavailable", "PinBlocked", "PinNotVerified", "WrongPin",
    "DEFAULT_GATEWAY", "GatewayClient", "bind", "claim_admin", "login",
    "CardInfo", "CardSession", "find_card", "list_readers",
]

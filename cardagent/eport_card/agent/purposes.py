"""What a signature is for, as the person at the reader is told before the PIN is asked.

The card signs whatever 1–64 bytes it is handed; the PIN is the person's consent. So the agent
asks for a PIN only for a purpose it knows, naming it, the card and the site that asks: a page
cannot have the card sign for something its holder was not told of.
"""
from __future__ import annotations

from .errors import AgentError

# purpose -> what the prompt calls it
PURPOSES = {"bind": "绑定", "login": "登录", "admin_claim": "法人认领", "identity": "实名认领"}
# purpose -> the card challenge's purpose at the gateway (shared/API.md): an administrator's claim
# proves the legal-person card the way a binding does
CHALLENGE_PURPOSES = {"bind": "bind", "login": "login", "admin_claim": "bind", "identity": "identity"}


class UnknownPurpose(AgentError):
    """A signature for a purpose the agent does not know: never signed."""


def check_purpose(purpose) -> str:
    if not isinstance(purpose, str) or purpose not in PURPOSES:
        raise UnknownPurpose(f"unknown purpose {purpose!r}: the agent signs for {', '.join(PURPOSES)}")
    return purpose


def pin_question(purpose: str, card_no: str, site: str) -> str:
    """The sentence shown above the PIN box: who asks, with which card, for what."""
    return f"{site} 请求使用 IC 卡 {card_no} 进行「{PURPOSES[check_purpose(purpose)]}」"

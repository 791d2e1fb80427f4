"""Access tokens for tests whose identity is a stand-in: signed like identity's own, so the
gateway's check (gateway/sessions.py) accepts them."""
import time

from contracts.tokens import Tokens
from services.common.settings import secret


def token_for(user_id, ttl=1800):
    return Tokens(secret("EPORT_TOKEN_SECRET"), ttl).issue(user_id, time.time())[0]

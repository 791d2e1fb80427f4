"""Access tokens for tests whose identity is a stand-in: signed with identity's own (development)
keys, whose public set the stand-in answers, so the gateway's check (gateway/sessions.py) accepts them."""
import time

from contracts.tokens import ACCESS_TOKEN_TTL, Tokens
from services.common.rpc import rpc
from services.common.settings import token_signing_keys


def signer(ttl=ACCESS_TOKEN_TTL):
    return Tokens(token_signing_keys(), ttl)


def token_for(user_id, ttl=ACCESS_TOKEN_TTL):
    return signer(ttl).issue(user_id, time.time())[0]


class IdentityStandIn:
    """The part of identity every stand-in needs: the gateway checks tokens itself with identity's
    public keys and asks identity only which sessions ended (none here). Subclass it and add the
    RPCs a test needs."""
    name = "identity"

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def token_keys(self):
        return signer().jwks

    @rpc
    def revoked_sessions(self):
        return []

    @rpc
    def sessions_ended_by_reset(self):
        return []

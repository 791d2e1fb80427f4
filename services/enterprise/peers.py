"""What the enterprise service asks other services, behind one small interface (as services/card/peers.py).

The application gets a `Peers` over the worker's RPC proxy, or in tests a fake with the same
methods (tests/peers.py). Every call has a deadline: a service that does not answer is a 503.
"""
from typing import Protocol

from services.common.rpc import RPC_DEADLINE, call_with_deadline


class PeerServices(Protocol):
    def user_name(self, user_id: str) -> str | None:
        """identity.get_user's name: the applicant's, for the administrator's requests list."""


class Peers:
    def __init__(self, identity, timeout=RPC_DEADLINE):
        self.identity = identity
        self.timeout = timeout

    def user_name(self, user_id):
        return self._call(self.identity.get_user, user_id)["name"]

    def _call(self, method, *args):
        return call_with_deadline(method, *args, deadline=self.timeout)

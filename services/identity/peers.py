"""What the identity service asks other services, behind one small interface (as services/card/peers.py).

The application gets a `Peers` over the worker's RPC proxy, or in tests a fake with the same
methods (tests/peers.py). Every call has a deadline: a service that does not answer is a 503.
"""
from typing import Protocol

from services.common.rpc import RPC_DEADLINE, call_with_deadline


class PeerServices(Protocol):
    def admin_has_members(self, user_id: str) -> bool:
        """enterprise.admin_has_members: whether the person administers an enterprise with other members
        (an erasure then waits for the role's handover: erasures.py)."""


class Peers:
    def __init__(self, enterprise, timeout=RPC_DEADLINE):
        self.enterprise = enterprise
        self.timeout = timeout

    def admin_has_members(self, user_id):
        return bool(call_with_deadline(self.enterprise.admin_has_members, user_id, deadline=self.timeout))

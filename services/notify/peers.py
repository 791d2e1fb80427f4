"""What the notify service asks other services, behind one small interface (as services/card/peers.py).

The inbox gets a `Peers` over the worker's RPC proxy (or, for a rebuild, over the rebuild's
standalone proxy), or in tests a fake with the same methods (tests/peers.py). Every call has a
deadline: an enterprise service that does not answer fails the delivery, which comes again later.
"""
from typing import Protocol

from contracts import errors as e
from contracts.errors import ServiceError
from services.common.rpc import RPC_DEADLINE, call_with_deadline


class PeerServices(Protocol):
    def enterprise_name(self, enterprise_id: str) -> str | None:
        """enterprise.get_enterprise's name, None for an enterprise it does not know: authz's events
        carry only the enterprise's id, the message names it."""


class Peers:
    def __init__(self, enterprise, timeout=RPC_DEADLINE):
        self.enterprise = enterprise
        self.timeout = timeout

    def enterprise_name(self, enterprise_id):
        try:
            return self._call(self.enterprise.get_enterprise, enterprise_id)["name"]
        except ServiceError as error:
            if error.code == e.ENTERPRISE_NOT_FOUND:
                return None
            raise

    def _call(self, method, *args):
        return call_with_deadline(method, *args, deadline=self.timeout)

"""The audit suites' parts: an enterprise stand-in answering membership for one enterprise (its
administrator ADMIN certified, MEMBER a user, UNCERTIFIED_ADMIN not certified) and the approvals it
publishes. For test_audit.py and test_audit_postgres.py."""
import uuid

import contracts.enterprise  # noqa: F401 (its event types, which approved() reads from the registry)
from contracts.envelope import REGISTRY, make_envelope
from services.common.rpc import rpc

ENTERPRISE = str(uuid.uuid4())
ADMIN, MEMBER, UNCERTIFIED_ADMIN = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())


class FakeEnterprise:
    """Stands in for the enterprise service's membership RPC (tested for real end to end)."""
    name = "enterprise"

    @rpc
    def membership(self, user_id, enterprise_id):
        if enterprise_id != ENTERPRISE:
            return None
        role = {ADMIN: "admin", MEMBER: "user", UNCERTIFIED_ADMIN: "admin"}.get(user_id)
        return {"association_id": "a", "role": role, "status": "approved",
                "role_certified": user_id == ADMIN} if role else None


def approved(user_id, version, when="2026-11-01T08:00:00+00:00"):
    return make_envelope(REGISTRY[("enterprise", "AssociationApproved")], aggregate_id=str(uuid.uuid4()),
                         aggregate_version=version, occurred_at=when, actor_user_id=ADMIN,
                         payload={"association_id": "x", "enterprise_id": ENTERPRISE, "user_id": user_id,
                                  "role": "user"})

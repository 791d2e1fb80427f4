"""Stored domain events of authz -> integration events of contracts/authz.py."""
from contracts import authz as c
from contracts.envelope import make_envelope

from .catalogue import catalogue
from .domain import EnterpriseAccess


def to_integration(domain_event):
    if isinstance(domain_event, EnterpriseAccess.PermissionGranted):
        yield _envelope(domain_event, c.PERMISSION_GRANTED, _permission(domain_event))
    elif isinstance(domain_event, EnterpriseAccess.PermissionRevoked):
        yield _envelope(domain_event, c.PERMISSION_REVOKED,
                        dict(_permission(domain_event), reason=domain_event.reason))
    elif isinstance(domain_event, EnterpriseAccess.AdminChanged):
        yield _envelope(domain_event, c.ENTERPRISE_ADMIN_CHANGED, {
            "enterprise_id": domain_event.enterprise_id,
            "admin_user_id": domain_event.admin_user_id,
            "previous_admin_user_id": domain_event.previous_admin_user_id,
            "role_certified": domain_event.role_certified,
        })
    # memberships learnt from the enterprise service are its events, not ours to republish


def _permission(domain_event):
    cat = catalogue()
    system = domain_event.system
    return {"enterprise_id": domain_event.enterprise_id, "user_id": domain_event.user_id, "system": system,
            "system_name": cat.name(system) if system in cat else system}


def _envelope(domain_event, et, payload):
    return make_envelope(et, aggregate_id=domain_event.originator_id,
                         aggregate_version=domain_event.originator_version,
                         occurred_at=domain_event.timestamp, payload=payload,
                         actor_user_id=getattr(domain_event, "actor_user_id", None))

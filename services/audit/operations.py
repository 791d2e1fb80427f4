"""What operators did: every `eport` command that changes something (a replay, a rebuild, a dead
letter put back or dropped) is recorded in the audit trail before it acts, as an event of source
`eport` (type OperatorActed), with who, what and when.

Who is the broker user that published the request: its AMQP `user_id`, which RabbitMQ checks
against the connection's user (services/common/rpc.py), so no one records in another's name; and
only the operators' broker user may call `audit.record_operation` (deploy/broker_policy.py), so no
service, gateway or auditor writes operator records. A rebuild of the audit log keeps them
(services/audit/rebuild.py): no upstream's history holds them.
"""
import json
import uuid
from datetime import UTC, datetime

from contracts import errors as e
from contracts import validators
from contracts.errors import ServiceError
from contracts.validators import check_fields

SOURCE = "eport"
OPERATOR_ACTED = "OperatorActed"
ACTIONS = ("replay", "rebuild", "dead-letters-replay", "dead-letters-drop", "legal-hold-add", "legal-hold-remove")
TARGET_MAX = 200
DETAILS_MAX = 4000  # characters of JSON
OPERATOR_NAMESPACE = uuid.UUID("a3f1d0c2-6b7e-4c58-9d41-2e0f8b7c6a15")


def _details(value):
    if value is None:
        return {}
    if not isinstance(value, dict) or len(json.dumps(value, ensure_ascii=False)) > DETAILS_MAX:
        raise ValueError(f"An object of at most {DETAILS_MAX} characters of JSON.")
    return value


def operation_record(broker_user, action, target, details=None, now=None):
    """The audit-log envelope of one operator action; 403 without a broker user, 400 on bad input."""
    if not broker_user:
        raise ServiceError(e.FORBIDDEN, "Only a request its broker user is known of may record an operation.")
    values = check_fields({"action": (validators.one_of(ACTIONS), action),
                           "target": (validators.text(TARGET_MAX), target), "details": (_details, details)})
    occurred = datetime.fromtimestamp(now, UTC) if now is not None else datetime.now(UTC)
    return {"event_id": str(uuid.uuid4()), "event_type": OPERATOR_ACTED, "event_version": 1,
            "occurred_at": occurred.isoformat(), "source": SOURCE,
            "aggregate_id": str(uuid.uuid5(OPERATOR_NAMESPACE, broker_user)), "aggregate_version": 1,
            "actor_user_id": None, "correlation_id": None,
            "payload": {"operator": broker_user, "action": values["action"], "target": values["target"],
                        "details": values["details"]}}

"""Envelopes of one person's events with personal fields, for the audit log's suites
(test_audit_at_rest.py, test_audit_erasure.py)."""
import uuid

from contracts import asyncapi
from contracts.envelope import REGISTRY, make_envelope

asyncapi.load_all_event_modules()

AT = "2026-11-01T08:00:00+00:00"
NAME, CARD_NO, SESSION = "欧阳娜娜", "8800000077777", "sess-" + uuid.uuid4().hex


def envelopes(user_id, enterprise_id):
    return [
        make_envelope(REGISTRY[("identity", "UserRegistered")], aggregate_id=user_id, aggregate_version=1,
                      occurred_at=AT,
                      payload={"user_id": user_id, "name": NAME, "id_type": "resident_id",
                               "id_number_masked": "110105********002X", "mobile_masked": "133****6117"}),
        make_envelope(REGISTRY[("identity", "UserLoggedIn")], aggregate_id=user_id, aggregate_version=2,
                      occurred_at=AT,
                      payload={"user_id": user_id, "method": "card", "session_id": SESSION}),
        make_envelope(REGISTRY[("card", "CardBound")], aggregate_id=str(uuid.uuid4()), aggregate_version=1,
                      occurred_at=AT,
                      payload={"enterprise_id": enterprise_id, "user_id": user_id, "card_no": CARD_NO,
                               "card_type": "operator", "bound_at": "2026-11-01T08:00:00+00:00"}),
    ]

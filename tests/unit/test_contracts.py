import re
from pathlib import Path

import pytest
from marshmallow import ValidationError

from contracts import asyncapi
from contracts.envelope import REGISTRY, make_envelope, read_envelope
from contracts.masking import mask_id_number, mask_mobile
from contracts.subscriptions import SUBSCRIPTIONS

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_asyncapi_document_is_in_sync_with_the_schemas():
    committed = (ROOT / "contracts" / "asyncapi.yaml").read_text(encoding="utf-8")
    assert committed == asyncapi.render(), "run `make asyncapi` and commit contracts/asyncapi.yaml"


def test_envelope_has_the_fields_of_the_design_and_a_stable_event_id():
    asyncapi.load_all_event_modules()
    et = REGISTRY[("identity", "PasswordSet")]
    kwargs = dict(aggregate_id="a1", aggregate_version=3, occurred_at="2026-01-01T00:00:00+00:00",
                  payload={"user_id": "u1", "reason": "setup"}, actor_user_id="u1")
    env = make_envelope(et, **kwargs)
    assert set(env) == {"event_id", "event_type", "event_version", "occurred_at", "source", "aggregate_id",
                        "aggregate_version", "correlation_id", "actor_user_id", "payload"}
    assert env["event_id"] == make_envelope(et, **kwargs)["event_id"]
    assert read_envelope(env)["payload"] == {"user_id": "u1", "reason": "setup"}


def test_invalid_payload_is_refused_before_it_is_published():
    asyncapi.load_all_event_modules()
    et = REGISTRY[("identity", "PasswordSet")]
    with pytest.raises(ValueError):
        make_envelope(et, aggregate_id="a", aggregate_version=1, occurred_at="2026-01-01T00:00:00+00:00",
                      payload={"reason": "setup"})


def test_malformed_envelope_is_rejected():
    with pytest.raises(ValidationError):
        read_envelope({"event_type": "X"})
    with pytest.raises(ValidationError):
        read_envelope(["not", "a", "dict"])


def test_subscription_queues_are_unique_and_name_known_sources():
    names = [s.queue_name for s in SUBSCRIPTIONS]
    assert len(names) == len(set(names))


def test_masks_match_the_api_examples():
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_mobile("13306506117") == "133****6117"


def test_no_payload_field_carries_clear_pii():
    asyncapi.load_all_event_modules()
    forbidden = re.compile(r"^(id_number|mobile|password|sms_code|code|pin)$")
    for et in REGISTRY.values():
        for field in et.payload().fields:
            assert not forbidden.match(field), f"{et.source}.{et.name}.{field} looks like clear PII"

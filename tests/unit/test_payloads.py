"""The one-pass payload check (contracts/payloads.py) against marshmallow's dump and validate, for
every event type contracts/ declares: whatever it accepts, marshmallow accepts with the same body."""
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from marshmallow import Schema, fields, validate

from contracts import asyncapi
from contracts.envelope import EVENT_ID_NAMESPACE, event_id_of, make_envelope, payload_body
from contracts.payloads import SLOW, Flat

pytestmark = pytest.mark.unit


def _sample(field):
    """A valid value of the field, and values of the wrong kind or out of its choices."""
    if isinstance(field, fields.Boolean):
        return True, [1, "true", 0, "yes", 2.5]
    if isinstance(field, fields.Integer):
        return 3, [True, "3", 3.0, 3.5, "x"]
    choices = [v.choices for v in field.validators if isinstance(v, validate.OneOf)]
    good = list(choices[0])[0] if choices else "text 名"
    return good, [3, b"bytes", "not one of the choices" if choices else 4.5, ["list"], uuid.uuid4()]


def _payloads(schema):
    good = {name: _sample(field)[0] for name, field in schema.fields.items()}
    yield good
    yield dict(good, unknown_key="dropped by dump")
    for name, field in schema.fields.items():
        yield {k: v for k, v in good.items() if k != name}
        yield dict(good, **{name: None})
        for bad in _sample(field)[1]:
            yield dict(good, **{name: bad})


def _marshmallow(schema, payload):
    try:
        body = schema.dump(payload)
    except (TypeError, ValueError, AttributeError):
        return None
    return None if schema.validate(body) else body


def _declared():
    return sorted(asyncapi.declared_event_types().values(), key=lambda et: (et.source, et.name))


@pytest.mark.parametrize("et", _declared(), ids=lambda et: f"{et.source}.{et.name}")
def test_the_one_pass_check_accepts_only_what_marshmallow_accepts_with_the_same_body(et):
    schema = et.payload()
    flat = Flat.compile(schema)
    assert flat is not None, "a declared payload schema fell back to marshmallow: teach contracts/payloads.py"
    accepted = 0
    for payload in _payloads(schema):
        fast = flat.dump_checked(payload)
        if fast is not SLOW:
            accepted += 1
            assert fast == _marshmallow(schema, payload), payload
    assert flat.dump_checked(next(_payloads(schema))) is not SLOW  # real payloads take the fast path
    assert accepted >= 2


def test_a_payload_the_fast_path_refuses_gets_marshmallows_body_or_error():
    class Odd(Schema):
        count = fields.Integer(required=True)
        flag = fields.Boolean(load_default=False)

    from contracts.envelope import EventType
    et = EventType("Odd", "test", 1, Odd, "")
    assert payload_body(et, {"count": True, "flag": 1}) == {"count": 1, "flag": 1}  # marshmallow's own answer
    with pytest.raises(ValueError, match="count"):
        payload_body(et, {"flag": True})


def test_schemas_with_what_it_does_not_know_fall_back():
    class Ranged(Schema):
        n = fields.Integer(validate=validate.Range(min=1))

    class Keyed(Schema):
        n = fields.String(data_key="N")

    class Nested(Schema):
        items = fields.List(fields.String())

    for schema in (Ranged, Keyed, Nested):
        assert Flat.compile(schema()) is None


def test_event_ids_are_uuid5_of_the_event():
    aggregate_id = uuid.uuid4()
    for version in (1, 7, 1234567):
        assert event_id_of("identity", str(aggregate_id), version, "LoggedIn") == str(
            uuid.uuid5(EVENT_ID_NAMESPACE, f"identity:{aggregate_id}:{version}:LoggedIn"))


def test_occurred_at_is_utc_whatever_zone_it_came_in():
    et = asyncapi.declared_event_types()[("identity", "PasswordSet")]
    moment = datetime(2026, 12, 2, 8, 30, tzinfo=timezone(timedelta(hours=8)))
    kwargs = dict(aggregate_id=uuid.uuid4(), aggregate_version=1, payload={"user_id": "u", "reason": "setup"})
    assert make_envelope(et, occurred_at=moment, **kwargs)["occurred_at"] == "2026-12-02T00:30:00+00:00"
    assert make_envelope(et, occurred_at=moment.astimezone(UTC), **kwargs)["occurred_at"] == "2026-12-02T00:30:00+00:00"

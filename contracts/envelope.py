"""The envelope every integration event travels in, and the registry of event types.

Each owning service declares its event types in `contracts/<service>.py` with `event_type(...)`;
the relay builds envelopes with `make_envelope`, consumers read them with `read_envelope`.
"""
import uuid
from hashlib import sha1
from dataclasses import dataclass
from datetime import datetime, UTC

from marshmallow import Schema, fields, validate, ValidationError

from .payloads import SLOW, Flat

# uuid5 namespace for event ids: the same stored event always gets the same event_id, so a
# republished event (relay restarted before its position was saved) is recognised by consumers.
EVENT_ID_NAMESPACE = uuid.UUID("6f1d4bde-2f55-4c44-9d0c-7d5a9b1f1a01")

# X-Request-ID as the gateway accepts it (shared/API.md): 1 to 128 visible ASCII characters.
CORRELATION_ID_PATTERN = r"^[\x21-\x7e]{1,128}$"


def _with_format(fmt, kwargs):
    return dict(kwargs, metadata={"format": fmt, **kwargs.get("metadata", {})})


def Id(**kwargs):
    """An identifier field: a canonical uuid string (the AsyncAPI document says `format: uuid`)."""
    return fields.String(**_with_format("uuid", kwargs))


def Timestamp(**kwargs):
    """A moment: ISO 8601 with timezone (`format: date-time`)."""
    return fields.String(**_with_format("date-time", kwargs))


class UserPayload(Schema):
    """The base of a payload about one person: `user_id` (ids only, as every payload)."""
    user_id = Id(required=True)


class MemberPayload(UserPayload):
    """The base of a payload about one person in one enterprise: `user_id`, `enterprise_id`."""
    enterprise_id = Id(required=True)


class SignatureSchema(Schema):
    kid = fields.String(required=True, metadata={"description": "the key's id in the published key set "
                                                               "(/.well-known/event-keys.json)"})
    sig = fields.String(required=True, metadata={"description": "base64url of the 64-byte Ed25519 signature"})


class EnvelopeSchema(Schema):
    event_id = Id(required=True, metadata={"description": "stable across redeliveries: dedupe by it"})
    event_type = fields.String(required=True, metadata={"description": "also the AMQP routing key"})
    event_version = fields.Integer(required=True, validate=validate.Range(min=1))
    occurred_at = Timestamp(required=True, metadata={"description": "ISO 8601 with timezone"})
    source = fields.String(required=True, metadata={"description": "owning service; exchange <source>.events"})
    aggregate_id = Id(required=True)
    aggregate_version = fields.Integer(required=True, validate=validate.Range(min=1))
    correlation_id = fields.String(allow_none=True, load_default=None, validate=validate.Regexp(CORRELATION_ID_PATTERN),
                                   metadata={"description": (
                                       "the X-Request-ID of the HTTP request that caused it, also on the events "
                                       "consumers emit in reaction; null for events no request caused")})
    actor_user_id = Id(allow_none=True, load_default=None, metadata={
        "description": "the user who acted, when one did"})
    payload = fields.Dict(required=True)
    signature = fields.Nested(SignatureSchema, allow_none=True, load_default=None, metadata={"description": (
        "Ed25519 signature of the source service over the other members (contracts/signatures.py): "
        "believe an event only when a key published for its `source` verifies it (docs/subscribers.md)")})


@dataclass(frozen=True)
class EventType:
    name: str
    source: str
    version: int
    payload: type  # marshmallow Schema class
    description: str


REGISTRY: dict[tuple[str, str], EventType] = {}


def event_type(source, name, payload, description, version=1):
    et = EventType(name, source, version, payload, description)
    REGISTRY[(source, name)] = et
    return et


_SCHEMAS = {}  # payload schema class -> (one instance, its Flat or None): building a schema cost more than using it


def _schema(cls):
    return _compiled(cls)[0]


def _compiled(cls):
    entry = _SCHEMAS.get(cls)
    if entry is None:
        schema = cls()
        entry = _SCHEMAS[cls] = (schema, Flat.compile(schema))
    return entry


def payload_body(et: EventType, payload):
    """The payload as published: dumped and checked against its schema; a mapping bug in the
    owning service raises ValueError, so that it refuses to publish rather than break subscribers."""
    schema, flat = _compiled(et.payload)
    body = SLOW if flat is None else flat.dump_checked(payload)
    if body is SLOW:
        body = schema.dump(payload)
        errors = schema.validate(body)
        if errors:
            raise ValueError(f"{et.source}.{et.name} payload invalid: {errors}")
    return body


def event_id_of(source, aggregate_id, aggregate_version, name):
    """uuid5(EVENT_ID_NAMESPACE, "source:aggregate:version:name") as text, written from the SHA-1
    digest directly rather than through a UUID object (which cost a third of an envelope)."""
    h = sha1(_NAMESPACE_BYTES + f"{source}:{aggregate_id}:{aggregate_version}:{name}".encode()).hexdigest()
    # version 5 in the 13th digit; the RFC 4122 variant (binary 10xx) in the 17th
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[int(h[16], 16)]}{h[17:20]}-{h[20:32]}"


_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes
_VARIANT = "89ab" * 4


def make_envelope(et: EventType, *, aggregate_id, aggregate_version, occurred_at, payload,
                  actor_user_id=None, correlation_id=None):
    body = payload_body(et, payload)
    if isinstance(occurred_at, datetime):
        if occurred_at.tzinfo is not UTC:
            occurred_at = occurred_at.astimezone(UTC)
        occurred_at = occurred_at.isoformat()
    aggregate_id = str(aggregate_id)
    return {
        "event_id": event_id_of(et.source, aggregate_id, aggregate_version, et.name),
        "event_type": et.name,
        "event_version": et.version,
        "occurred_at": occurred_at,
        "source": et.source,
        "aggregate_id": aggregate_id,
        "aggregate_version": int(aggregate_version),
        "correlation_id": correlation_id,
        "actor_user_id": None if actor_user_id is None else str(actor_user_id),
        "payload": body,
    }


def read_envelope(body):
    """Validate an incoming envelope; raises marshmallow.ValidationError."""
    if not isinstance(body, dict):
        raise ValidationError({"_schema": ["envelope must be an object"]})
    return EnvelopeSchema().load(body)

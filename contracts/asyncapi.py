"""Generates the AsyncAPI 3.1 document of every integration event from the marshmallow schemas.

    python -m contracts.asyncapi > contracts/asyncapi.yaml      (make asyncapi)

Schemas are standard JSON Schema (AsyncAPI's schema format is a superset of Draft 7): apispec in
its OpenAPI 3.1 mode writes a nullable field as a type list (`[string, "null"]`), not OpenAPI
3.0's `nullable`, which JSON Schema validators do not know. A message's id is its key under
`components.messages` (AsyncAPI 3 has no `messageId` field: that key replaced it).

tests/unit/test_contracts.py fails when the committed file and the schemas disagree, and
tests/unit/test_asyncapi_lint.py has AsyncAPI's own parser (@asyncapi/parser) find no error, warning or hint.
"""
import copy
import importlib
import pkgutil
import sys

import yaml
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

import contracts
from contracts.envelope import REGISTRY, EnvelopeSchema

NOT_EVENT_MODULES = {"asyncapi", "envelope", "errors", "masking", "signatures", "subscriptions", "tokens", "validators"}
AMQP_BINDING_VERSION = "0.3.0"
DOCUMENT_ID = "urn:cn:chinaport:eport:identity-platform:events"


def load_all_event_modules():
    for info in pkgutil.iter_modules(contracts.__path__):
        if info.name not in NOT_EVENT_MODULES:
            importlib.import_module(f"contracts.{info.name}")


def declared_event_types():
    """Every event type contracts/ declares, by (source, name): the registry's, which a test adds to
    only while it runs (tests/support.py `registered`)."""
    load_all_event_modules()
    return dict(sorted(REGISTRY.items()))


def _schema_name(schema):
    name = (schema if isinstance(schema, type) else type(schema)).__name__
    return name[:-6] if name.endswith("Schema") else name


def message_key(source, name):
    return f"{source}.{name}"


def _message(et, payload_name):
    return {
        "name": et.name,
        "title": f"{et.name} (v{et.version})",
        "summary": et.description,
        "contentType": "application/json",
        "headers": {"type": "object", "description": "AMQP message headers",
                    "properties": {"event_version": {"type": "integer", "const": et.version}}},
        "payload": {"allOf": [
            {"$ref": "#/components/schemas/Envelope"},
            {"type": "object", "required": ["signature"], "properties": {
                "event_type": {"const": et.name},
                "event_version": {"const": et.version},
                "source": {"const": et.source},
                "payload": {"$ref": f"#/components/schemas/{payload_name}"},
            }},
        ]},
        "correlationId": {"$ref": "#/components/correlationIds/request"},
        "bindings": {"amqp": {"messageType": et.name, "bindingVersion": AMQP_BINDING_VERSION}},
    }


def _channel(et, key):
    return {
        "address": et.name,
        "title": f"{et.source}.events / {et.name}",
        "description": f"Exchange `{et.source}.events` (topic), routing key `{et.name}`.",
        "messages": {et.name: {"$ref": f"#/components/messages/{key}"}},
        "bindings": {"amqp": {"is": "routingKey", "bindingVersion": AMQP_BINDING_VERSION, "exchange": {
            "name": f"{et.source}.events", "type": "topic", "durable": True, "autoDelete": False, "vhost": "/"}}},
    }


def _operation(et, key):
    return {
        "action": "send",
        "channel": {"$ref": f"#/channels/{key}"},
        "title": f"{et.source} publishes {et.name}",
        "summary": et.description,
        "messages": [{"$ref": f"#/channels/{key}/messages/{et.name}"}],
        "bindings": {"amqp": {"deliveryMode": 2, "mandatory": False, "bindingVersion": AMQP_BINDING_VERSION}},
    }


def _info():
    return {
        "title": "e-port identity and permission platform: integration events",
        "version": "1.0.0",
        "description": (
            "Every event travels in the same envelope (components.schemas.Envelope); `payload` "
            "holds the event's own fields, PII masked or left out. Delivery is at least once: "
            "dedupe by `event_id`, which stays the same across redeliveries. Bind a durable queue "
            "of your own to `<source>.events` with the event type as routing key (`#` for all); "
            "see docs/subscribers.md. Every event is signed by its source service (`signature`: "
            "Ed25519 over the RFC 8785 canonical JSON of the envelope's other members); believe one "
            "only when a key of the published key set (the gateway's /.well-known/event-keys.json, "
            "a JWK set) whose `eport_source` is the event's `source` verifies it: anyone who may put "
            "a message on your queue could otherwise speak for a service."),
        "contact": {"name": "e-port identity and permission platform team",
                    "url": "https://www.chinaport.gov.cn/"},
        "license": {"name": "Apache 2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
        "tags": [{"name": source, "description": f"events of the {source} service"}
                 for source in sorted({s for s, _ in declared_event_types()})],
    }


def build():
    spec = APISpec(title="x", version="1", openapi_version="3.1.0",
                   plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)])
    spec.components.schema("Envelope", schema=EnvelopeSchema)
    channels, operations, messages = {}, {}, {}
    for (source, name), et in declared_event_types().items():
        payload_name = _schema_name(et.payload)
        if payload_name not in spec.components.schemas:
            spec.components.schema(payload_name, schema=et.payload)
        key = message_key(source, name)
        messages[key] = _message(et, payload_name)
        channels[key] = _channel(et, key)
        operations[f"send{source.capitalize()}{name}"] = _operation(et, key)
    schemas = copy.deepcopy(spec.to_dict()["components"]["schemas"])
    return {
        "asyncapi": "3.1.0",
        "id": DOCUMENT_ID,
        "info": _info(),
        "defaultContentType": "application/json",
        "servers": {"local": {"host": "localhost:5672", "protocol": "amqp", "protocolVersion": "0.9.1",
                              "description": "RabbitMQ of `make run`"}},
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "correlationIds": {"request": {
                "description": "The X-Request-ID of the HTTP request that caused the event.",
                "location": "$message.payload#/correlation_id"}},
        },
    }


def render():
    return yaml.safe_dump(build(), sort_keys=False, allow_unicode=True, width=100)


if __name__ == "__main__":
    sys.stdout.write(render())

"""Generates the AsyncAPI document of every integration event from the marshmallow schemas.

    python -m contracts.asyncapi > contracts/asyncapi.yaml      (make asyncapi)

tests/unit/test_contracts.py fails when the committed file and the schemas disagree.
"""
import importlib
import pkgutil
import sys

import yaml
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

import contracts
from contracts.envelope import REGISTRY, EnvelopeSchema

NOT_EVENT_MODULES = {"asyncapi", "envelope", "errors", "masking", "subscriptions", "tokens", "validators"}


def load_all_event_modules():
    for info in pkgutil.iter_modules(contracts.__path__):
        if info.name not in NOT_EVENT_MODULES:
            importlib.import_module(f"contracts.{info.name}")


def _schema_name(schema):
    name = (schema if isinstance(schema, type) else type(schema)).__name__
    return name[:-6] if name.endswith("Schema") else name


def build():
    load_all_event_modules()
    spec = APISpec(title="x", version="1", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)])
    spec.components.schema("Envelope", schema=EnvelopeSchema)
    channels, messages = {}, {}
    # only what contracts/ declares (tests register event types of their own in the same registry)
    declared = {k: et for k, et in REGISTRY.items() if et.payload.__module__.startswith("contracts.")}
    for (source, name), et in sorted(declared.items()):
        payload_name = _schema_name(et.payload)
        if payload_name not in spec.components.schemas:
            spec.components.schema(payload_name, schema=et.payload)
        key = f"{source}.{name}"
        messages[key] = {
            "name": name,
            "title": f"{name} (v{et.version})",
            "summary": et.description,
            "contentType": "application/json",
            "headers": {"type": "object", "properties": {"event_version": {"type": "integer"}}},
            "payload": {"allOf": [
                {"$ref": "#/components/schemas/Envelope"},
                {"type": "object", "properties": {
                    "event_type": {"const": name},
                    "event_version": {"const": et.version},
                    "source": {"const": source},
                    "payload": {"$ref": f"#/components/schemas/{payload_name}"},
                }},
            ]},
        }
        channels[f"{source}.events/{name}"] = {
            "description": f"Exchange `{source}.events` (topic), routing key `{name}`.",
            "bindings": {"amqp": {"is": "routingKey", "exchange": {
                "name": f"{source}.events", "type": "topic", "durable": True, "autoDelete": False, "vhost": "/"}}},
            "subscribe": {
                "operationId": f"on{source.capitalize()}{name}",
                "summary": et.description,
                "bindings": {"amqp": {"ack": True, "deliveryMode": 2}},
                "message": {"$ref": f"#/components/messages/{key}"},
            },
        }
    schemas = spec.to_dict()["components"]["schemas"]
    return {
        "asyncapi": "2.6.0",
        "info": {
            "title": "e-port identity and permission platform: integration events",
            "version": "1.0.0",
            "description": (
                "Every event travels in the same envelope (components.schemas.Envelope); `payload` "
                "holds the event's own fields, PII masked or left out. Delivery is at least once: "
                "dedupe by `event_id`, which stays the same across redeliveries. Bind a durable queue "
                "of your own to `<source>.events` with the event type as routing key (`#` for all); "
                "see docs/subscribers.md."),
        },
        "defaultContentType": "application/json",
        "servers": {"local": {"url": "localhost:5672", "protocol": "amqp", "protocolVersion": "0.9.1"}},
        "channels": channels,
        "components": {"schemas": schemas, "messages": messages},
    }




def render():
    return yaml.safe_dump(build(), sort_keys=False, allow_unicode=True, width=100)


if __name__ == "__main__":
    sys.stdout.write(render())

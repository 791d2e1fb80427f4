"""Validating messages against contracts/asyncapi.yaml with a standard JSON Schema validator
(`jsonschema`, Draft 7: AsyncAPI's schema format is its superset), as another system would.
The document's objects have `additionalProperties: false`, so a field the platform emits without
documenting it fails too.
"""
import copy
from datetime import datetime
from pathlib import Path

import jsonschema
import yaml

DOCUMENT = Path(__file__).resolve().parents[1] / "contracts" / "asyncapi.yaml"

FORMATS = jsonschema.FormatChecker()  # every format jsonschema knows (uuid among them)


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value):
    # jsonschema checks date-time only with an optional package; ISO 8601 with a timezone is the rule here
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


def load_document():
    return yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))


class MessageValidators:
    """One Draft 7 validator per message of the document, by (source, event_type)."""

    def __init__(self, document=None):
        self.document = copy.deepcopy(document or load_document())
        self.by_type = {}
        for key, message in self.document["components"]["messages"].items():
            source = key.split(".", 1)[0]
            root = dict(self.document, **{"$ref": f"#/components/messages/{key}/payload"})
            jsonschema.Draft7Validator.check_schema(message["payload"])
            self.by_type[(source, message["name"])] = jsonschema.Draft7Validator(root, format_checker=FORMATS)

    def errors(self, source, event_type, body):
        validator = self.by_type.get((source, event_type))
        if validator is None:
            return [f"{source}.{event_type} is not in the document"]
        return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
                for e in validator.iter_errors(body)]

"""contracts/asyncapi.yaml as standard tools read it: AsyncAPI's own parser finds nothing to say,
and a standard JSON Schema validator accepts what the platform publishes (null where allowed)."""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from contracts.asyncapi import declared_event_types, message_key
from contracts.envelope import make_envelope
from services.common.event_keys import signed
from tests.asyncapi_validation import DOCUMENT, MessageValidators, load_document

pytestmark = pytest.mark.unit
LINT = Path(__file__).resolve().parents[1] / "asyncapi_lint"


def test_asyncapi_parser_gives_no_error_warning_info_or_hint():
    node = shutil.which("node")
    assert node, "node is needed (Debian package nodejs, deploy/apt-packages.txt)"
    assert (LINT / "node_modules" / "@asyncapi" / "parser").is_dir(), "`make install` (npm ci in tests/asyncapi_lint)"
    out = subprocess.run([node, str(LINT / "lint.mjs"), str(DOCUMENT)], capture_output=True, text=True,
                         timeout=60, check=True)
    assert json.loads(out.stdout) == []


def test_the_parser_refuses_a_document_that_breaks_the_specification(tmp_path):
    doc = load_document()
    next(iter(doc["components"]["messages"].values()))["messageId"] = "x"  # AsyncAPI 2 only
    broken = tmp_path / "asyncapi.json"
    broken.write_text(json.dumps(doc))
    out = subprocess.run(["node", str(LINT / "lint.mjs"), str(broken)], capture_output=True, text=True,
                         timeout=60, check=True)
    diagnostics = json.loads(out.stdout)
    assert diagnostics and {d["severity"] for d in diagnostics} == {"error"}


def test_document_has_an_id_contact_and_license():
    # the parser's "recommended" rules (asyncapi-id, asyncapi-info-contact, ...) only run on AsyncAPI 2
    doc = load_document()
    assert doc["asyncapi"].startswith("3.") and doc["id"].startswith("urn:")
    assert doc["info"]["contact"]["name"] and doc["info"]["contact"]["url"].startswith("https://")
    assert doc["info"]["license"]["name"] and doc["info"]["license"]["url"].startswith("https://")


def test_every_declared_event_type_has_a_message_channel_and_operation():
    doc = load_document()
    types = declared_event_types()
    assert set(doc["components"]["messages"]) == {message_key(s, n) for s, n in types}
    assert set(doc["channels"]) == set(doc["components"]["messages"])
    assert len(doc["operations"]) == len(types)
    for source, name in types:
        channel = doc["channels"][message_key(source, name)]
        assert channel["address"] == name
        assert channel["bindings"]["amqp"]["exchange"]["name"] == f"{source}.events"


def _envelope(**overrides):
    et = declared_event_types()[("identity", "PasswordSet")]
    user = "4b0e6a57-6c36-4f55-8c41-5c2b8f7d9e01"
    kwargs = dict(aggregate_id=user, aggregate_version=2, occurred_at="2026-01-01T00:00:00+00:00",
                  payload={"user_id": user, "reason": "setup"}, actor_user_id=None, correlation_id=None)
    return signed(make_envelope(et, **(kwargs | overrides)))


def test_null_correlation_and_actor_are_valid_json_schema():
    assert MessageValidators().errors("identity", "PasswordSet", _envelope()) == []


def test_a_published_event_must_carry_its_signature():
    unsigned = {k: v for k, v in _envelope().items() if k != "signature"}
    assert MessageValidators().errors("identity", "PasswordSet", unsigned)


def test_validator_refuses_what_the_document_forbids():
    validators = MessageValidators()
    assert validators.errors("identity", "PasswordSet", _envelope(correlation_id="req-1")) == []
    bad = [_envelope(correlation_id="has space"), _envelope(aggregate_id="not-a-uuid"),
           _envelope(occurred_at="2026-01-01T00:00:00"), dict(_envelope(), extra=1),
           dict(_envelope(), event_type="UserLocked")]
    for body in bad:
        assert validators.errors("identity", "PasswordSet", body), body
    assert validators.errors("identity", "NoSuchEvent", _envelope())


def test_ids_and_moments_say_their_format():
    # what the real-subscriber contract test (tests/e2e/test_event_contract.py) then holds real events to
    for name, schema in load_document()["components"]["schemas"].items():
        for field, prop in schema.get("properties", {}).items():
            if field.endswith("_id") and field not in ("session_id", "identity_session_id", "correlation_id"):
                assert prop.get("format") == "uuid", f"{name}.{field}: Id(...) of contracts/envelope.py"
            if field.endswith(("_at", "_until")):
                assert prop.get("format") == "date-time", f"{name}.{field}: Timestamp(...)"

"""/openapi.json against the gateway's own input handling: each pattern accepts what its check
accepts and nothing else, and the document's structure says what the routes do (security, the
statuses and their codes, the login oneOf). tests/e2e/test_openapi_fuzz.py runs schemathesis
against the running platform; this is the fast half."""
import re

import pytest
from nameko.web.handlers import HttpRequestHandler
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import gateway.service  # noqa: F401 (registers every route)
from contracts import card, validators
from contracts.errors import ValidationFailed
from gateway import field_docs
from gateway.card_schemas import CardChallengeRequestSchema
from gateway.enterprise_schemas import AssociationBodySchema
from gateway.errors import status_of
from gateway.identity_schemas import _sms_code
from gateway.openapi import build_spec
from gateway.routing import ROUTES, _load
from gateway.http import http
from gateway.service import GatewayService

pytestmark = pytest.mark.unit

# (pattern, the check the gateway applies) where the pattern says all of the check
EXACT = [(field_docs.MOBILE, validators.mobile), (field_docs.SMS_CODE, _sms_code),
         (field_docs.CARD_NO, card.card_no), (field_docs.PERSON_NAME, validators.person_name),
         (field_docs.ID, validators.canonical_uuid), (field_docs.PEM_CERTIFICATE, card.certificate),
         (field_docs.CARD_SIGNATURE, card.signature)]
PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\nAAAA==\n-----END CERTIFICATE-----\n"
TRICKY = ["13306506117", " 13306506117\u3000", "1330650611７", "13306506117\n", "\x1c950339\x85", "95O339",
          "张三", "张", " 张·三 ", "张三\t ", "a-b", "8800000012345", "88 00", "-", "١٣٣٠٦٥٠٦١١٧", "",
          "0b8f7c3e-5a4d-5d7e-9c43-2f1e6a9b8d10", "0B8F7C3E-5A4D-5D7E-9C43-2F1E6A9B8D10",
          "{0b8f7c3e-5a4d-5d7e-9c43-2f1e6a9b8d10}",
          "0b8f7c3e5a4d5d7e9c432f1e6a9b8d10", PEM, PEM.replace("\n", "\r\n"), PEM.replace("CERTIFICATE", "KEY"),
          PEM.replace("AAAA==", "AA AA"), "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----",
          "AAAA", "AA==", "AAA=", " MEUCIQ== ", "A", "AAAAA", "A===", "AA=A", "AA\nAA", "A" * 684,
          "\U0002000B三", " 李·\U0002000B明 ", "张\u4DC0", "\U0002000B"]  # 𠀋: Extension B; a hexagram


def _ecma(pattern):
    # JSON Schema's `$` is the end of the string; Python's also matches before a final newline
    return re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern)


def _accepts(check, value):
    try:
        check(value)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("doc,check", EXACT)
def test_a_pattern_accepts_exactly_what_its_check_accepts(doc, check):
    pattern = _ecma(doc["pattern"])
    for value in TRICKY:
        assert bool(pattern.search(value)) == _accepts(check, value), repr(value)


@pytest.mark.parametrize("doc,check", EXACT)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_value_of_a_pattern_passes_its_check(doc, check, data):
    value = data.draw(st.from_regex(_ecma(doc["pattern"])))
    assume(len(value.strip()) <= card.SIGNATURE_MAX)  # a field's maxLength bounds it beside its pattern
    assert _accepts(check, value), repr(value)


@pytest.mark.parametrize("value", ["11010519491231002X", " 11010519491231002x ", "1101051949123100２X"])
def test_resident_id_pattern_is_the_syntax_its_format_adds_to(value):
    matches = bool(_ecma(field_docs.RESIDENT_ID["pattern"]).search(value))
    assert matches == _accepts(validators.resident_id, value)


def test_unknown_properties_are_ignored_and_nulls_taken_where_documented():
    body = _load(CardChallengeRequestSchema, {"purpose": "bind", "card_no": "88", "x-unknown": 42}, "body")
    assert body == {"purpose": "bind", "card_no": "88"}
    assert _load(AssociationBodySchema, {"uscc": "913300007458363392", "role": "user", "name": None},
                 "body")["name"] is None
    with pytest.raises(ValidationFailed):
        _load(CardChallengeRequestSchema, {"purpose": "bind", "card_no": None}, "body")


@pytest.fixture(scope="module")
def doc():
    return build_spec()


def _operations(doc):
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield method.upper(), path, op


def served(service=GatewayService):
    """(METHOD, path) of every HTTP entrypoint the gateway's class declares, its path in OpenAPI's notation."""
    found = set()
    for name in dir(service):
        for entrypoint in getattr(getattr(service, name), "nameko_entrypoints", ()):
            if isinstance(entrypoint, HttpRequestHandler):
                path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", entrypoint.url)
                found |= {(method.strip().upper(), path) for method in entrypoint.method.split(",")}
    return found


def test_every_path_the_gateway_serves_is_in_the_document_and_no_other(doc):
    """/oauth2/*, /.well-known/* (event-keys.json too), erasure and export included: nothing served unpublished."""
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops
                  if method in ("get", "put", "post", "delete", "patch", "options", "head")}
    walked = served()
    assert {("POST", "/oauth2/logout"), ("GET", "/.well-known/event-keys.json"), ("POST", "/api/v1/me/erasure"),
            ("POST", "/api/v1/me/export"), ("OPTIONS", "/oauth2/token")} <= walked  # the walk sees them all
    assert not walked - documented, f"served, not in /openapi.json: {sorted(walked - documented)}"
    assert not documented - walked, f"in /openapi.json, not served: {sorted(documented - walked)}"


def test_the_walk_finds_an_entrypoint_declared_without_the_document():
    class Undocumented(GatewayService):
        @http("GET", "/api/v1/undocumented/<thing_id>")
        def undocumented(self, request, thing_id):
            return 204, ""
    assert served(Undocumented) - served() == {("GET", "/api/v1/undocumented/{thing_id}")}


def test_request_bodies_say_that_unknown_properties_are_ignored(doc):
    for route in ROUTES:
        if route.body is not None:
            ref = doc["paths"][route.path][route.method.lower()]["requestBody"]["content"]["application/json"]
            name = ref["schema"]["$ref"].rsplit("/", 1)[1]
            schema = doc["components"]["schemas"][name]
            assert schema.get("additionalProperties") is True or "oneOf" in schema, name


def test_every_route_with_a_token_has_the_security_scheme(doc):
    for route in ROUTES:
        op = doc["paths"][route.path][route.method.lower()]
        if route.auth:
            assert op["security"] == [{"bearer": []}], route.path
        assert "401" in op["responses"] or op["security"] == [], route.path


def test_every_error_status_lists_only_codes_of_that_status(doc):
    for method, path, op in _operations(doc):
        assert "X-Request-ID" in {p["name"] for p in op["parameters"]}
        for status, response in op["responses"].items():
            assert "X-Request-ID" in response["headers"]
            schema = response.get("content", {}).get("application/json", {}).get("schema", {})
            if "allOf" in schema:
                codes = schema["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"]
                assert {status_of(c) for c in codes} == {int(status)}, (method, path, status)
        if path not in ("/healthz", "/openapi.json"):
            assert "503" in op["responses"], (method, path)


def test_login_is_a_one_of_with_method_as_discriminator(doc):
    schemas = doc["components"]["schemas"]
    login = schemas["SessionRequest"]
    assert login["discriminator"]["propertyName"] == "method"
    assert set(login["discriminator"]["mapping"]) == {"password", "sms", "card"}
    for method, ref in login["discriminator"]["mapping"].items():
        target = schemas[ref.rsplit("/", 1)[1]]
        assert target["properties"]["method"]["enum"] == [method] and "method" in target["required"]
    assert [o["$ref"] for o in login["oneOf"]] == list(login["discriminator"]["mapping"].values())

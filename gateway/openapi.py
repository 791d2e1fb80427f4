"""The OpenAPI 3 document of every route declared with `gateway.routing.route`: what the gateway
really does, so that generators, validators and fuzzers can trust it (tests/e2e/test_openapi_fuzz.py
runs schemathesis against the running platform).

- Request fields carry the constraints the gateway enforces (lengths, patterns and formats of
  gateway/field_docs.py, enums); properties a request body does not name are ignored by the
  gateway, so request bodies say `additionalProperties: true`.
- Every status a route can answer is documented, each error with the codes it can carry.
- `POST /api/v1/sessions` is a `oneOf` of the three login methods with `method` as discriminator.
"""
import copy
import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

from contracts import errors as e
from contracts.personal_data import openapi_components

from . import field_docs
from .body import BODY_ERRORS
from .idempotency import HEADER as IDEMPOTENCY_HEADER
from .idempotency import METHODS as COMMAND_METHODS
from .errors import status_of
from .http import REQUEST_ID_HEADER
from .identity_schemas import LOGIN_SCHEMAS, CheckedString, PasswordSchema, SessionRequestSchema
from .routing import ROUTES


class ErrorDetail(Schema):
    code = fields.String(required=True, metadata={"example": "VALIDATION_ERROR"})
    message = fields.String(required=True)
    details = fields.Dict(required=True, metadata={"description": "e.g. the bad fields and their messages"})


class ErrorBody(Schema):
    error = fields.Nested(ErrorDetail, required=True)


def _schema_name(schema):
    name = (schema if isinstance(schema, type) else type(schema)).__name__
    return name[:-6] if name.endswith("Schema") and len(name) > 6 else name


IDEMPOTENCY_PARAMETER = {
    "name": IDEMPOTENCY_HEADER, "in": "header", "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[!-~]+$"},
    "description": "1 to 128 visible ASCII characters. The same key with the same body by the same caller "
                   "within 24 h answers the first answer again without running the command twice; with "
                   "another body 422 IDEMPOTENCY_KEY_REUSED; 409 IDEMPOTENCY_KEY_IN_USE while the first "
                   "request with it is still running. Any other value is 400 VALIDATION_ERROR.",
}
REQUEST_ID_PARAMETER = {
    "name": REQUEST_ID_HEADER, "in": "header", "required": False, "schema": {"type": "string"},
    "description": "The request's id, kept when it is 1 to 128 visible ASCII characters, else replaced by one the "
                   "gateway makes; answered in the response's X-Request-ID and carried as `correlation_id` by "
                   "every event the request causes.",
}
RESPONSE_HEADERS = {REQUEST_ID_HEADER: {"description": "the request's id (see the X-Request-ID parameter)",
                                        "schema": {"type": "string", **field_docs.REQUEST_ID}}}
# Routes without auth= that still read a token: the bind challenge, a password change.
OPTIONAL_TOKEN = {("POST", "/api/v1/card-challenges"), ("PUT", "/api/v1/users/{user_id}/password")}
# Statuses a route answers besides its declared one.
OTHER_SUCCESS = {("POST", "/api/v1/associations"): {202: "role user: the application waits for approval"},
                 ("GET", "/healthz"): {503: "a service does not answer"}}
NO_SERVICE_CALL = {("GET", "/openapi.json"), ("GET", "/healthz")}


def _checked_string_lengths(self, field, ret, **kwargs):
    """CheckedString's own length caps (not marshmallow validators, so apispec cannot see them)."""
    if isinstance(field, CheckedString):
        return {"minLength": field.min_length, "maxLength": field.max_length}
    return {}


def _path_parameter(name):
    if name == "uscc":
        schema = {"type": "string", **{k: v for k, v in field_docs.USCC.items() if k != "example"}}
    else:
        schema = {"type": "string", **field_docs.ID}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _has_required(schema_cls):
    return any(f.required for f in schema_cls().fields.values())


def _error_codes(r):
    codes = set(r.errors)
    has_path_params = "{" in r.path
    if r.body or r.query or has_path_params or r.method in COMMAND_METHODS:
        codes.add(e.VALIDATION_ERROR)  # a field, an id in the path, the Idempotency-Key
    if r.body is not None:
        codes.update(BODY_ERRORS)
    if r.auth or (r.method, r.path) in OPTIONAL_TOKEN:
        codes.add(e.UNAUTHENTICATED)
    if r.method in COMMAND_METHODS:
        codes.update((e.IDEMPOTENCY_KEY_REUSED, e.IDEMPOTENCY_KEY_IN_USE))
    if (r.method, r.path) not in NO_SERVICE_CALL:
        codes.add(e.SERVICE_UNAVAILABLE)
    return codes


def _error_response(codes):
    return {
        "description": "error " + " or ".join(sorted(codes)),
        "headers": RESPONSE_HEADERS,
        "content": {"application/json": {"schema": {"allOf": [
            {"$ref": "#/components/schemas/Error"},
            {"type": "object", "properties": {"error": {"type": "object", "properties": {
                "code": {"type": "string", "enum": sorted(codes)}}}}}]}}},
    }


def _operation(r):
    op = {"summary": r.summary, "tags": list(r.tags) or ["platform"], "responses": {},
          "operationId": re.sub(r"\W+", "_", f"{r.method.lower()}{r.path}").strip("_")}
    if r.description:
        op["description"] = r.description
    params = [_path_parameter(p) for p in re.findall(r"\{(\w+)\}", r.path)]
    if r.query is not None:
        params.append({"in": "query", "schema": r.query})
    if r.method in COMMAND_METHODS:
        params.append(IDEMPOTENCY_PARAMETER)
    op["parameters"] = [*params, REQUEST_ID_PARAMETER]
    if r.body is not None:
        op["requestBody"] = {"required": _has_required(r.body),
                             "content": {"application/json": {"schema": r.body}}}
    if r.auth:
        op["security"] = [{"bearer": []}]
    elif (r.method, r.path) in OPTIONAL_TOKEN:
        op["security"] = [{"bearer": []}, {}]
    else:
        op["security"] = []
    ok = {"description": "success", "headers": RESPONSE_HEADERS}
    if r.response is not None:
        ok["content"] = {"application/json": {"schema": r.response}}
    op["responses"][str(r.status)] = ok
    for status, why in OTHER_SUCCESS.get((r.method, r.path), {}).items():
        op["responses"][str(status)] = dict(ok, description=why)
    by_status = {}
    for code in _error_codes(r):
        by_status.setdefault(status_of(code), set()).add(code)
    for status, codes in sorted(by_status.items()):
        op["responses"].setdefault(str(status), _error_response(codes))
    return op


def _login_one_of(schemas):
    """The three login bodies, each its `method` fixed, chosen by `method`."""
    mapping = {}
    for method, schema_cls in LOGIN_SCHEMAS.items():
        name = _schema_name(schema_cls)
        schemas[name]["properties"]["method"] = {"type": "string", "enum": [method]}
        mapping[method] = f"#/components/schemas/{name}"
    schemas[_schema_name(SessionRequestSchema)] = {
        "description": SessionRequestSchema.__doc__.strip(),
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "method", "mapping": mapping},
    }


def _password_one_of(schemas):
    """PasswordSchema's rule: the setup token of registration, or the current password; not both."""
    schemas[_schema_name(PasswordSchema)]["oneOf"] = [
        {"required": ["password_setup_token"], "not": {"required": ["current_password"]},
         "properties": {"end_other_sessions": {"type": "boolean", "enum": [False]}}},
        {"required": ["current_password"], "not": {"required": ["password_setup_token"]}},
    ]


def build_spec():
    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(
        title="e-port identity and permission platform",
        version="1.0.0",
        openapi_version="3.0.3",
        info={"description": "Accounts, enterprises, IC cards and business-system permissions. "
                             "Errors: {\"error\": {\"code\", \"message\", \"details\"}}. String formats of "
                             "this document: " + "; ".join(f"`{k}`: {v}" for k, v in field_docs.FORMATS.items())
                             + "."},
        plugins=[plugin],
    )
    plugin.converter.add_attribute_function(_checked_string_lengths)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    spec.components.schema("Error", schema=ErrorBody)
    for schema_cls in LOGIN_SCHEMAS.values():
        spec.components.schema(_schema_name(schema_cls), schema=schema_cls)
    paths = {}
    for r in ROUTES:
        paths.setdefault(r.path, {})[r.method.lower()] = _operation(r)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    doc = copy.deepcopy(spec.to_dict())
    schemas = doc["components"]["schemas"]
    for r in ROUTES:  # the gateway drops what a body does not name
        if r.body is not None:
            schemas[_schema_name(r.body)]["additionalProperties"] = True
    for schema_cls in LOGIN_SCHEMAS.values():
        schemas[_schema_name(schema_cls)]["additionalProperties"] = True
    _login_one_of(schemas)
    _password_one_of(schemas)
    schemas.update(openapi_components())  # the export's own JSON Schema (contracts/schemas/)
    return doc

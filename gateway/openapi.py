"""The OpenAPI 3 document of every route declared with `gateway.routing.route`."""
import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

from .body import BODY_ERRORS
from .commands import HEADER as IDEMPOTENCY_HEADER
from .commands import METHODS as COMMAND_METHODS
from .errors import status_of
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
                   "request with it is still running.",
}


def build_spec():
    spec = APISpec(
        title="e-port identity and permission platform",
        version="1.0.0",
        openapi_version="3.0.3",
        info={"description": "Accounts, enterprises, IC cards and business-system permissions. "
                             "Errors: {\"error\": {\"code\", \"message\", \"details\"}}."},
        plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    spec.components.schema("Error", schema=ErrorBody)
    paths = {}
    for r in ROUTES:
        op = {"summary": r.summary, "tags": list(r.tags) or ["platform"], "responses": {}}
        if r.description:
            op["description"] = r.description
        params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                  for p in re.findall(r"\{(\w+)\}", r.path)]
        if r.query is not None:
            params.append({"in": "query", "schema": r.query})
        if r.method in COMMAND_METHODS:
            params.append(IDEMPOTENCY_PARAMETER)
        if params:
            op["parameters"] = params
        if r.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": r.body}}}
        if r.auth:
            op["security"] = [{"bearer": []}]
        ok = {"description": "success"}
        if r.response is not None:
            ok["content"] = {"application/json": {"schema": r.response}}
        op["responses"][str(r.status)] = ok
        codes = list(r.errors) + (["VALIDATION_ERROR"] if (r.body or r.query) else []) + \
            (["UNAUTHENTICATED"] if r.auth else []) + \
            (["IDEMPOTENCY_KEY_REUSED", "IDEMPOTENCY_KEY_IN_USE"] if r.method in COMMAND_METHODS else []) + \
            (list(BODY_ERRORS) if r.body else [])
        by_status = {}
        for code in codes:
            by_status.setdefault(status_of(code), []).append(code)
        for status, group in sorted(by_status.items()):
            op["responses"][str(status)] = {
                "description": "error code " + " or ".join(sorted(set(group))),
                "content": {"application/json": {"schema": "Error"}},
            }
        paths.setdefault(r.path, {})[r.method.lower()] = op
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()

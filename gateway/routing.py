"""The `route` decorator: one place that parses input, checks the bearer token, calls the handler,
maps errors, and records the route for the OpenAPI document."""
import functools
import json
import logging
import re
from dataclasses import dataclass, field

from marshmallow import EXCLUDE, ValidationError
from werkzeug.wrappers import Response

from contracts import errors as e
from contracts.errors import ServiceError
from services.common.rpc import call_with_deadline

from .budgets import ROUTE_BUDGETS, spending
from .errors import error_response, json_response
from .http import http
from .ids import check_path_ids

log = logging.getLogger(__name__)

RPC_TIMEOUT = 15  # seconds: longer than a service's own calls to others (services/common/rpc.py)
MAX_KEPT_QUERY = 512  # characters of a query string whose loaded fields are kept (_load_query)


@dataclass
class Route:
    method: str
    path: str
    summary: str
    status: int
    auth: bool
    body: type | None
    query: type | None
    response: type | None
    errors: tuple
    tags: tuple
    description: str = ""
    extra: dict = field(default_factory=dict)


ROUTES: list[Route] = []


@dataclass(frozen=True)
class Actor:
    user_id: str
    session_id: str


def _werkzeug_path(path):
    return re.sub(r"\{(\w+)\}", r"<\1>", path)


@functools.cache
def _schema(schema_cls):
    # A marshmallow schema is reusable across loads and costly to build: one per class.
    return schema_cls(unknown=EXCLUDE)


def _load(schema_cls, data, where):
    try:
        return _schema(schema_cls).load(data)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {where: exc.messages}
        raise e.ValidationFailed(details=messages) from None


def _load_query(schema_cls, args):
    """A query string's fields, loaded once per distinct query: the same check is asked again and
    again, and its schema's load was 8% of the gateway's CPU in one (bench/authz.py --profile).
    Only what loaded is kept (a refusal is found again each time), copied out (the handler owns it)."""
    items = tuple(sorted(args.items()))
    if sum(len(k) + len(v) for k, v in items) > MAX_KEPT_QUERY:
        return _load(schema_cls, dict(items), "query")
    return dict(_loaded_query(schema_cls, items))


@functools.lru_cache(maxsize=1024)
def _loaded_query(schema_cls, items):
    return _load(schema_cls, dict(items), "query")


def _json_body(request):
    raw = request.get_data(cache=False)
    if not raw:
        return {}
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise e.ValidationFailed(details={"body": ["Request body is not valid JSON."]}) from None


def call(fn, *args, **kwargs):
    """An RPC call with the gateway's deadline (services/common/rpc.py)."""
    return call_with_deadline(fn, *args, deadline=RPC_TIMEOUT, **kwargs)


def bearer_token(request):
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ServiceError(e.UNAUTHENTICATED, "A bearer token is required.")
    return token.strip()


def _answer(result, status):
    if isinstance(result, Response):  # a route that writes more than JSON (a cookie: sso_routes)
        return result
    if isinstance(result, tuple):
        return json_response(*result)
    if result is None:
        return json_response(204)
    return json_response(status, result)


def route(method, path, *, summary, status=200, auth=True, body=None, query=None, response=None,
          errors=(), tags=(), description="", budget=None):
    """Declare an HTTP endpoint on a gateway mixin.

    The handler is called as `fn(self, request, actor=..., body=..., query=..., **path_params)`
    (only the keywords that apply) and returns the response body (a dict), or None for 204,
    or a `(status, body)` pair. `budget` (gateway/budgets.py) is charged once the input is read,
    before the handler: over it, 429 RATE_LIMITED and the handler never runs.
    """
    if budget is not None:
        errors = (*errors, e.RATE_LIMITED)
        ROUTE_BUDGETS[(method, _werkzeug_path(path))] = budget
    ROUTES.append(Route(method, path, summary, status, auth, body, query, response, tuple(errors),
                        tuple(tags), description))

    def decorate(fn):
        @functools.wraps(fn)
        def handler(self, request, **path_params):
            try:
                kwargs = dict(path_params)
                if auth:
                    kwargs["actor"] = self.authenticate(request)
                check_path_ids(path_params)
                if body is not None:
                    kwargs["body"] = _load(body, _json_body(request), "body")
                if query is not None:
                    kwargs["query"] = _load_query(query, request.args.to_dict())
                with spending(budget, request, kwargs):
                    self.commands.begin(request, method, path, kwargs.get("actor"), kwargs.get("body"), path_params)
                    result = fn(self, request, **kwargs)
            except ServiceError as exc:
                return error_response(exc.code, exc.message, exc.details)
            except Exception:  # a bug: say so without leaking internals
                log.exception("%s %s failed", method, path)
                return error_response("INTERNAL_ERROR", "Internal error.", status=500)
            return _answer(result, status)

        return http(method, _werkzeug_path(path))(handler)

    return decorate

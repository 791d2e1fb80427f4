"""The gateway's HTTP entrypoint: nameko's, except that a request no route matches gets the API's
JSON error shape (404 NOT_FOUND, 405 METHOD_NOT_ALLOWED with `Allow`) instead of werkzeug's HTML
page, and that every request has an id (X-Request-ID). Every route of the gateway must use this
`http` (one web server per class of entrypoint).

The request id is the client's X-Request-ID when it is 1 to 128 visible ASCII characters, else one
made here; every answer echoes it, and it is the worker's correlation id (services/common/context.py),
which nameko sends on with every RPC the request makes: the events they cause carry it."""
import re
import uuid

from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Request

from contracts import errors as e
from contracts.envelope import CORRELATION_ID_PATTERN
from services.common.context import CORRELATION_ID

from .console import console_response
from .errors import error_response

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_RE = re.compile(CORRELATION_ID_PATTERN.removeprefix("^").removesuffix("$"))
_ENVIRON_KEY = "eport.request_id"


def request_id(header_value):
    """The client's request id when it is acceptable, else a new one."""
    if header_value and _REQUEST_ID_RE.fullmatch(header_value):
        return header_value
    return str(uuid.uuid4())


def unmatched_response(exc, request=None):
    if isinstance(exc, RequestRedirect):  # werkzeug's own answer (a slash added) is right
        return exc
    if isinstance(exc, MethodNotAllowed):
        response = error_response(e.METHOD_NOT_ALLOWED, "This endpoint does not take this method.",
                                  {"method": [f"Allowed: {', '.join(sorted(exc.valid_methods or ()))}."]})
        response.headers["Allow"] = ", ".join(sorted(exc.valid_methods or ()))
        return response
    if isinstance(exc, NotFound):  # a screen or file of the web console, else the JSON 404
        console = console_response(request) if request is not None else None
        if console is not None:
            return console
        return error_response(e.NOT_FOUND, "No such endpoint; see /openapi.json.", status=404)
    return error_response(e.HTTP_ERROR, exc.description or exc.name, status=exc.code)


class JsonErrorsWsgiApp(WsgiApp):
    def __call__(self, environ, start_response):
        rid = environ[_ENVIRON_KEY] = request_id(environ.get("HTTP_X_REQUEST_ID"))

        def start_response_with_id(status, headers, exc_info=None):
            headers = [(k, v) for k, v in headers if k.lower() != REQUEST_ID_HEADER.lower()]
            return start_response(status, [*headers, (REQUEST_ID_HEADER, rid)], exc_info)

        return self._respond(environ, start_response_with_id)

    def _respond(self, environ, start_response):
        # nameko's WsgiApp.__call__, with unmatched requests answered by unmatched_response
        request = Request(environ, shallow=True)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = adapter.match()
            request.path_values = values
            rv = provider.handle_request(request)
        except HTTPException as exc:
            rv = unmatched_response(exc, request)
        return rv(environ, start_response)


class JsonErrorsWebServer(WebServer):
    def get_wsgi_app(self):
        return JsonErrorsWsgiApp(self)

    def context_data_from_headers(self, request):
        return {CORRELATION_ID: request.environ[_ENVIRON_KEY]}


class HttpEntrypoint(HttpRequestHandler):
    server = JsonErrorsWebServer()


http = HttpEntrypoint.decorator

"""The gateway's HTTP entrypoint: nameko's, except that a request no route matches gets the API's
JSON error shape (404 NOT_FOUND, 405 METHOD_NOT_ALLOWED with `Allow`) instead of werkzeug's HTML
page, that every request has an id (X-Request-ID), and that the body is read, within limits,
before a worker is taken (gateway/body.py), on sockets that time out. Every route of the gateway
must use this `http` (one web server per class of entrypoint).

The request id is the client's X-Request-ID when it is 1 to 128 visible ASCII characters, else one
made here; every answer echoes it, and it is the worker's correlation id (services/common/context.py),
which nameko sends on with every RPC the request makes: the events they cause carry it. Every answer
under /api/ and /oauth2/, errors included, says `Cache-Control: no-store` and
`X-Content-Type-Options: nosniff` (api_headers)."""
import logging
import re
import socket
import time
import uuid
from logging import getLogger

from eventlet import wsgi
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer, WsgiApp
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Request

from contracts import errors as e
from contracts.envelope import CORRELATION_ID_PATTERN
from services.common.context import CORRELATION_ID
from services.common.rpc import SignatureChecked

from .body import BodyRefused, buffer_body, socket_timeout
from .budgets import early_refusal
from .client_turns import client_turn, direct_client, proxied_turn
from .console import console_response
from .errors import error_response

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_RE = re.compile(CORRELATION_ID_PATTERN.removeprefix("^").removesuffix("$"))
_ENVIRON_KEY = "eport.request_id"
API_PREFIXES = ("/api/", "/oauth2/")
API_HEADERS = (("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"))
LINGER_SECONDS = 2.0  # after refusing a body: how long, and how much of it, is read and dropped so
LINGER_BYTES = 1 << 20  # that closing does not reset the connection before the client read the answer


def request_id(header_value):
    """The client's request id when it is acceptable, else a new one."""
    if header_value and _REQUEST_ID_RE.fullmatch(header_value):
        return header_value
    return str(uuid.uuid4())


def api_headers(path):
    """What every answer of the API says, errors included (a 413 refused before any route, a 404 no
    route matched): personal data is never kept by a cache or a proxy, and a JSON body is never
    sniffed into something a browser would run."""
    if path.startswith(API_PREFIXES):
        return API_HEADERS
    return ()


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


class BoundedProtocol(HttpOnlyProtocol):
    """Lets the app close the connection after its answer (`environ["eport.close"]()`), and then
    closes it gently."""
    lingering = False
    _turn = None

    def _read_request_line(self):
        # The client's turn (gateway/client_turns.py), once a request has begun to arrive: a client's
        # requests beyond its few at once wait here, before their headers are parsed.
        line = super()._read_request_line()
        client = direct_client((self.client_address or ("",))[0]) if line else None
        if client is not None:
            self._turn = client_turn(client)
            self._turn.__enter__()
        return line

    def handle_one_request(self):
        try:
            super().handle_one_request()
        finally:
            turn, self._turn = self._turn, None
            if turn is not None:
                turn.__exit__(None, None, None)

    def get_environ(self):
        environ = super().get_environ()
        environ["eport.close"] = self._close_after_answer
        return environ

    def _close_after_answer(self):
        self.close_connection = 1  # eventlet then says `Connection: close` and drops the rest
        self.lingering = True

    def finish(self):
        if self.lingering:
            _drain(self.connection)
        super().finish()


def _drain(sock):
    try:
        sock.shutdown(socket.SHUT_WR)
        deadline, read = time.monotonic() + LINGER_SECONDS, 0
        while read < LINGER_BYTES and (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            chunk = sock.recv(64 * 1024)
            if not chunk:
                break
            read += len(chunk)
    except OSError:
        pass


class JsonErrorsWsgiApp(WsgiApp):
    def __call__(self, environ, start_response):
        rid = environ[_ENVIRON_KEY] = request_id(environ.get("HTTP_X_REQUEST_ID"))

        extra = [(REQUEST_ID_HEADER, rid), *api_headers(environ.get("PATH_INFO", ""))]
        replaced = {name.lower() for name, _ in extra}

        def start_response_with_id(status, headers, exc_info=None):
            headers = [(k, v) for k, v in headers if k.lower() not in replaced]
            return start_response(status, [*headers, *extra], exc_info)

        return self._respond(environ, start_response_with_id)

    def _respond(self, environ, start_response):
        try:
            buffer_body(environ)
        except BodyRefused as refused:
            environ["eport.close"]()
            return refused.response(environ, start_response)
        # nameko's WsgiApp.__call__, with unmatched requests answered by unmatched_response
        request = Request(environ, shallow=True)
        adapter = self.url_map.bind_to_environ(environ)
        with proxied_turn(environ):  # a direct client's turn is taken by the protocol (client_turns.py)
            try:
                provider, values = adapter.match()
                request.path_values = values
                refused = early_refusal(provider.method, provider.url, environ)
                rv = provider.handle_request(request) if refused is None else \
                    error_response(refused.code, refused.message, refused.details)
            except HTTPException as exc:
                rv = unmatched_response(exc, request)
        return rv(environ, start_response)


class JsonErrorsWebServer(WebServer):
    def get_wsgi_app(self):
        return JsonErrorsWsgiApp(self)

    def get_wsgi_server(self, sock, wsgi_app, protocol=BoundedProtocol, debug=False):
        # nameko's, with a timeout on every socket operation (nameko sets none: a silent client
        # held its connection forever)
        log = getLogger("nameko.web.server")
        server = wsgi.Server(sock, sock.getsockname(), wsgi_app, protocol=protocol, debug=debug, log=log,
                             socket_timeout=socket_timeout())
        # eventlet formats every request's access line (a date, a dict, a %) before the logger drops
        # it: only when it would be written (its errors are logged either way)
        server.log_output = log.isEnabledFor(logging.INFO)
        return server

    def context_data_from_headers(self, request):
        return {CORRELATION_ID: request.environ[_ENVIRON_KEY]}


class HttpEntrypoint(SignatureChecked, HttpRequestHandler):
    server = JsonErrorsWebServer()


http = HttpEntrypoint.decorator

"""The gateway's HTTP entrypoint: nameko's, except that a request no route matches gets the API's
JSON error shape (404 NOT_FOUND, 405 METHOD_NOT_ALLOWED with `Allow`) instead of werkzeug's HTML
page. Every route of the gateway must use this `http` (one web server per class of entrypoint)."""
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Request

from contracts import errors as e

from .errors import error_response


def unmatched_response(exc):
    if isinstance(exc, RequestRedirect):  # werkzeug's own answer (a slash added) is right
        return exc
    if isinstance(exc, MethodNotAllowed):
        response = error_response(e.METHOD_NOT_ALLOWED, "This endpoint does not take this method.",
                                  {"method": [f"Allowed: {', '.join(sorted(exc.valid_methods or ()))}."]})
        response.headers["Allow"] = ", ".join(sorted(exc.valid_methods or ()))
        return response
    if isinstance(exc, NotFound):
        return error_response(e.NOT_FOUND, "No such endpoint; see /openapi.json.", status=404)
    return error_response(e.HTTP_ERROR, exc.description or exc.name, status=exc.code)


class JsonErrorsWsgiApp(WsgiApp):
    def __call__(self, environ, start_response):
        # nameko's WsgiApp.__call__, with unmatched requests answered by unmatched_response
        request = Request(environ, shallow=True)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = adapter.match()
            request.path_values = values
            rv = provider.handle_request(request)
        except HTTPException as exc:
            rv = unmatched_response(exc)
        return rv(environ, start_response)


class JsonErrorsWebServer(WebServer):
    def get_wsgi_app(self):
        return JsonErrorsWsgiApp(self)


class HttpEntrypoint(HttpRequestHandler):
    server = JsonErrorsWebServer()


http = HttpEntrypoint.decorator

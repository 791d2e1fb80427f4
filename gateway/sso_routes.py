"""Single sign-on's endpoints (shared/API.md "Single sign-on for business systems"): the gateway
hands each request to the sso service as data and writes its answer back; it decides nothing.

The provider session is a cookie of its own, `__Host-` (Secure, Path=/, no Domain: only this host
sets or reads it), HttpOnly, SameSite=Lax (a business system's link brings it along, a cross-site
POST does not). Its pages may not be framed (frame-ancestors 'none'), and no CORS header is sent.
"""
import logging
import time

from werkzeug.wrappers import Response

from contracts.errors import ServiceError
from contracts.tokens import ACCESS_TOKEN_TTL

from .errors import error_response
from .http import http
from .routing import ROUTES, Route, call, route

log = logging.getLogger(__name__)

COOKIE = "__Host-eport_sso"
FRAMING = (("Content-Security-Policy", "frame-ancestors 'none'"), ("X-Frame-Options", "DENY"))
MAX_FORM = 32  # parameters kept from a query or a form: more is no OAuth request


def _lists(multidict):
    return {k: multidict.getlist(k)[:4] for k in list(multidict.keys())[:MAX_FORM]}


def _as_data(request):
    headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
    form = _lists(request.form) if request.method == "POST" else {}
    return {"method": request.method, "path": request.path, "args": _lists(request.args), "form": form,
            "headers": headers, "cookie": request.cookies.get(COOKIE)}


def _forward(method, request):
    """The sso service's answer to this request; its own refusal or absence as the API's error body."""
    try:
        return _response(call(method, _as_data(request)))
    except ServiceError as exc:
        return error_response(exc.code, exc.message, exc.details)
    except Exception:  # a bug: say so without leaking internals
        log.exception("%s %s failed", request.method, request.path)
        return error_response("INTERNAL_ERROR", "Internal error.", status=500)


def _response(answer):
    response = Response(answer["body"], status=answer["status"], headers=[tuple(h) for h in answer["headers"]])
    for name, value in FRAMING:
        response.headers[name] = value
    return response


def _documented(method, path, summary, description):
    ROUTES.append(Route(method, path, summary, 200 if method != "GET" or "authorize" not in path else 302,
                        False, None, None, None, (), ("single sign-on",), description))


class SsoRoutes:
    @route("GET", "/.well-known/openid-configuration", summary="OpenID Connect discovery", auth=False,
           tags=("single sign-on",), description="The provider's metadata (OpenID Connect Discovery 1.0): "
           "issuer (EPORT_ISSUER), endpoints, jwks_uri, code_challenge_methods_supported [S256], "
           "authorization_response_iss_parameter_supported.")
    def openid_configuration(self, request):
        return call(self.sso.discovery)

    _documented("GET", "/oauth2/authorize", "Authorization endpoint (authorization code flow, PKCE S256)",
                "OAuth 2 authorization request: response_type=code, client_id, redirect_uri (a registered one, "
                "exactly), scope (openid, profile, eport:enterprise:{id}), state, nonce, code_challenge, "
                "code_challenge_method=S256, prompt, max_age. Answers 302 to the client with code, state and iss, "
                "or error, state and iss; to the console's login or chooser; 400 when the client or redirect URI "
                "is not registered.")

    @http("GET", "/oauth2/authorize")
    def oauth2_authorize(self, request):
        return _forward(self.sso.authorize, request)

    _documented("POST", "/oauth2/token", "Token endpoint",
                "application/x-www-form-urlencoded: grant_type authorization_code (code, redirect_uri, "
                "code_verifier) or refresh_token (refresh_token); client_secret_basic. OAuth 2 JSON errors.")

    @http("POST", "/oauth2/token")
    def oauth2_token(self, request):
        return _forward(self.sso.token, request)

    _documented("GET", "/oauth2/userinfo", "UserInfo endpoint",
                "The claims of the access token's person for its client (Authorization: Bearer); 401 "
                "WWW-Authenticate: Bearer error=\"invalid_token\".")

    @http("GET", "/oauth2/userinfo")
    def oauth2_userinfo(self, request):
        return _forward(self.sso.userinfo, request)

    @route("POST", "/oauth2/session", summary="Begin a single sign-on session (the console, after a login)",
           status=204, tags=("single sign-on",), description="Sets the provider session cookie "
           f"({COOKIE}: Secure, HttpOnly, SameSite=Lax) bound to the caller's session; the console then goes "
           "back to /oauth2/authorize.")
    def oauth2_session(self, request, actor):
        # no longer than the identity session it comes from
        value = call(self.sso.begin_session, actor.user_id, actor.session_id, time.time() + ACCESS_TOKEN_TTL)
        response = Response(status=204)
        response.set_cookie(COOKIE, value, max_age=ACCESS_TOKEN_TTL, path="/", secure=True, httponly=True,
                            samesite="Lax")
        return response


"""Single sign-on's endpoints (shared/API.md "Single sign-on for business systems"): the gateway
hands each request to the sso service as data and writes its answer back; it decides nothing.

The provider session is a cookie of its own, `__Host-` (Secure, Path=/, no Domain: only this host
sets or reads it), HttpOnly, SameSite=Lax (a business system's link brings it along, a cross-site
POST does not). Its pages may not be framed (frame-ancestors 'none'). No CORS header on
/oauth2/authorize (navigated to, never fetched); discovery is public (any origin), and the token
endpoint answers the pages of its clients' redirect URIs' origins, as the sso service says.
"""
import logging

from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response

from contracts import errors as e
from contracts.errors import ServiceError
from contracts.sso import RETURN_TO_MAX
from contracts.tokens import ACCESS_TOKEN_TTL

from .budgets import ROUTE_BUDGETS, SSO, spending
from .errors import error_response, json_response
from .http import http
from .routing import ROUTES, Route, bearer_token, call, route

log = logging.getLogger(__name__)

COOKIE = "__Host-eport_sso"
FRAMING = (("Content-Security-Policy", "frame-ancestors 'none'"), ("X-Frame-Options", "DENY"))
MAX_FORM = 32  # parameters kept from a query or a form: more is no OAuth request


def _lists(multidict):
    return {k: multidict.getlist(k)[:4] for k in list(multidict.keys())[:MAX_FORM]}


def _as_data(request):
    headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type", "origin")}
    form = _lists(request.form) if request.method == "POST" else {}
    return {"method": request.method, "path": request.path, "args": _lists(request.args), "form": form,
            "headers": headers, "cookie": request.cookies.get(COOKIE)}


def _relying_party(request):
    """The client_id a request names (query, form or Basic credentials): what the per-RP budget counts."""
    named = request.args.get("client_id") or (request.form.get("client_id") if request.method == "POST" else None)
    basic = request.authorization.username if request.authorization else None
    return (named or basic or "")[:64] or None


def _forward(method, request):
    """The sso service's answer to this request, its budget spent first (429 before any work); its
    own refusal or absence as the API's error body."""
    try:
        with spending(SSO, request, {"client_id": _relying_party(request)}):
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
    if (answer.get("cookie") or {}).get("clear"):
        response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="Lax")
    return response


class ChoicesQuery(Schema):
    # its length (RETURN_TO_MAX) is the service's to check: a longer one would be refused before any route (414)
    return_to = fields.String(required=True, validate=validate.Regexp(r"^/oauth2/authorize\?"), metadata={
        "description": f"the /oauth2/authorize request the console's chooser was sent with (its return_to), "
                       f"at most {RETURN_TO_MAX} characters"})


class ChoiceSchema(Schema):
    enterprise_id = fields.String()
    name = fields.String()
    uscc = fields.String()
    role = fields.String()
    granted = fields.Boolean(metadata={"description": "the client lets the person in for this enterprise"})
    continue_to = fields.String(metadata={"description": "the authorization request that chooses this enterprise"})


class ChoicesSchema(Schema):
    client = fields.Dict(metadata={"description": "{name}: the business system asking"})
    items = fields.List(fields.Nested(ChoiceSchema))


def _documented(method, path, summary, description, status=None):
    """An /oauth2/ endpoint in /openapi.json, with its budget (the early refusal reads it)."""
    status = status or (302 if path.endswith("/authorize") else 200)
    ROUTES.append(Route(method, path, summary, status, False, None, None, None, (e.RATE_LIMITED,),
                        ("single sign-on",), description))
    ROUTE_BUDGETS[(method, path)] = SSO


def _forwarded(method, path, rpc_name, summary, description, status=None):
    """A documented endpoint whose request the sso service's `rpc_name` answers."""
    _documented(method, path, summary, description, status)

    def handler(self, request):
        return _forward(getattr(self.sso, rpc_name), request)
    return http(method, path)(handler)


_LOGOUT = ("RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)",
           "id_token_hint (an ID token of this provider; an expired one is accepted), client_id (optional; "
           "the hint's audience), post_logout_redirect_uri (registered for the client, exactly), state "
           "(passed back). Ends the provider session (the cookie is cleared), the identity session it rests "
           "on and the tokens it gave; every client it gave tokens to and that registered a "
           "backchannel_logout_uri is sent a logout token. 302 to post_logout_redirect_uri, else a page; "
           "without a valid hint a page asks the person to confirm (a POST with confirm=yes from that page: "
           "a browser's Origin other than the issuer's gets the page again); 400 page for "
           "a hint, client_id or post_logout_redirect_uri that is not valid (nothing ends).")


class SsoRoutes:
    @route("GET", "/.well-known/openid-configuration", summary="OpenID Connect discovery", auth=False,
           tags=("single sign-on",), description="The provider's metadata (OpenID Connect Discovery 1.0): "
           "issuer (EPORT_ISSUER), endpoints, jwks_uri, code_challenge_methods_supported [S256], "
           "authorization_response_iss_parameter_supported.")
    def openid_configuration(self, request):
        # public metadata: a relying party running in a browser reads it from its own origin
        return json_response(200, call(self.sso.discovery), {"Access-Control-Allow-Origin": "*"})

    oauth2_authorize = _forwarded(
        "GET", "/oauth2/authorize", "authorize", "Authorization endpoint (authorization code flow, PKCE S256)",
        "OAuth 2 authorization request: response_type=code, client_id, redirect_uri (a registered one, "
        "exactly), scope (openid, profile, eport:enterprise:{id}), state, nonce, code_challenge, "
        "code_challenge_method=S256, prompt, max_age. Answers 302 to the client with code, state and iss, "
        "or error, state and iss; to the console's login or chooser; 400 when the client or redirect URI "
        "is not registered.")

    oauth2_token = _forwarded(
        "POST", "/oauth2/token", "token", "Token endpoint",
        "application/x-www-form-urlencoded: grant_type authorization_code (code, redirect_uri, "
        "code_verifier) or refresh_token (refresh_token); a confidential client authenticates with "
        "client_secret_basic, a public one (`eport clients add --public`) with none (client_id in the "
        "form), each with its own method only. OAuth 2 JSON errors.")

    oauth2_token_preflight = _forwarded(
        "OPTIONS", "/oauth2/token", "token_preflight", "CORS preflight of the token endpoint",
        "For a relying party running in a browser: a page whose Origin is that of one of a client's registered "
        "redirect URIs may POST (Authorization, Content-Type); any other origin gets no Access-Control-Allow-Origin.",
        status=204)

    @route("GET", "/oauth2/choices", summary="The enterprises to choose from at a single sign-on login (the console)",
           auth=False, query=ChoicesQuery, response=ChoicesSchema, errors=(e.UNAUTHENTICATED,),
           tags=("single sign-on",), description=f"With the provider session cookie ({COOKIE}): the enterprises "
           "the person acts for, whether the client of return_to lets them in for each (granted), and the "
           "authorization URL that chooses each (continue_to). 401 UNAUTHENTICATED without a live session, "
           "400 VALIDATION_ERROR (return_to) when it is no request of a registered client.", budget=SSO)
    def oauth2_choices(self, request, query):
        return _response(call(self.sso.choices, _as_data(request)))

    oauth2_userinfo = _forwarded(
        "GET", "/oauth2/userinfo", "userinfo", "UserInfo endpoint",
        "The claims of the access token's person for its client (Authorization: Bearer); 401 "
        "WWW-Authenticate: Bearer error=\"invalid_token\".")

    oauth2_logout = _forwarded("GET", "/oauth2/logout", "logout", *_LOGOUT)
    oauth2_logout_confirmed = _forwarded("POST", "/oauth2/logout", "logout", *_LOGOUT)

    @route("POST", "/oauth2/session", summary="Begin a single sign-on session (the console, after a login)",
           status=204, tags=("single sign-on",), description="Sets the provider session cookie "
           f"({COOKIE}: Secure, HttpOnly, SameSite=Lax) bound to the caller's session; the console then goes "
           "back to /oauth2/authorize. The session's auth_time is the caller's login (when the token was "
           "issued), not now: it satisfies prompt=login and max_age only after a fresh login.", budget=SSO)
    def oauth2_session(self, request, actor):
        # sso asks identity whose session the token is, when its login was made and when it ends
        value = call(self.sso.begin_session, bearer_token(request))
        response = Response(status=204)
        response.set_cookie(COOKIE, value, max_age=ACCESS_TOKEN_TTL, path="/", secure=True, httponly=True,
                            samesite="Lax")
        return response


"""The endpoints of the provider, each one function of (provider, http request dict) -> answer dict.

`/oauth2/authorize` needs a provider session (its cookie): without one, or when `max_age` has
passed, or with `prompt=login`, the browser goes to the console's login and comes back;
`prompt=none` answers login_required instead. The way back carries a mark of this demand
(`eport_login`: when, sealed with the request's client and PKCE challenge), and a session begun
after it satisfies `prompt=login` and `max_age` once: the login is not asked again in a loop, and
the mark fits no other request. The enterprise of the login is the one the scope names
(`eport:enterprise:{id}`), else the person's only one; with several the console's chooser adds
that scope and comes back (`prompt=none`: interaction_required). Every redirect to the client
carries `iss` (RFC 9207), errors included; an error never goes to an unregistered URI.
"""
import hashlib
import hmac
from urllib.parse import quote, urlencode

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749.errors import AccessDeniedError, OAuth2Error
from authlib.oidc.core.errors import InteractionRequiredError

from contracts.sso import ENTERPRISE_SCOPE_PREFIX
from services.common.settings import issuer, secret

from . import browser
from .adapter import answer

LOGIN_PAGE = "/sso/login"  # the console's routes (console/): they come back to /oauth2/authorize
CHOOSER_PAGE = "/sso/choose"
LOGIN_MARK = "eport_login"  # the demand for a login, carried through the console's login and back


def with_iss(response):
    if response["status"] == 302:
        response["headers"] = [[k, add_params_to_uri(v, [("iss", issuer())]) if k == "Location" else v]
                               for k, v in response["headers"]]
    return response


def _seal(when, request):
    key = hmac.new(secret("EPORT_INDEX_KEY").encode(), b"sso login demands", hashlib.sha256).digest()
    data = request.payload.data
    text = "|".join((when, str(data.get("client_id", "")), str(data.get("code_challenge", ""))))
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:32]


def _mark(request, now):
    when = str(int(now))
    return f"{when}.{_seal(when, request)}"


def _logged_in_since_demand(request, session):
    """Whether the session began with a login after this very request sent the browser to log in."""
    when, _, seal = str(request.payload.data.get(LOGIN_MARK, "")).partition(".")
    if session is None or not when.isdigit() or len(when) > 12:
        return False
    return hmac.compare_digest(seal, _seal(when, request)) and session.auth_time >= int(when)


def _max_age_passed(request, session, now):
    raw = request.payload.data.get("max_age")
    if session is None or raw is None:
        return False
    try:
        return now - session.auth_time > max(int(raw), 0)
    except ValueError:
        return False


def _console(page, http, mark=None):
    """To the console's page and back to this request; a new login's mark replaces the old one (the
    chooser keeps it: the login it stands for is still the one this request asked)."""
    args = [(k, v) for k, vs in (http.get("args") or {}).items() if not (mark and k == LOGIN_MARK) for v in vs]
    back = "/oauth2/authorize?" + urlencode(args + ([(LOGIN_MARK, mark)] if mark else []))
    return answer(302, "", [("Location", f"{page}?return_to={quote(back, safe='')}")])


def authorize(provider, http):
    app = provider.app
    request = provider.create_oauth2_request(http)
    session, now = app.session_of(request.cookie), app.clock()
    fresh = _logged_in_since_demand(request, session)
    if not fresh and _max_age_passed(request, session, now):
        session = None
    try:
        grant = provider.get_consent_grant(request, end_user=session)  # client, redirect URI, PKCE, prompt
    except OAuth2Error as error:
        return with_iss(provider.handle_error_response(request, error))
    if session is None or (grant.prompt == "login" and not fresh):
        return _console(LOGIN_PAGE, http, _mark(request, now))
    state, redirect_uri = request.payload.state, grant.redirect_uri
    try:
        enterprise_id = _enterprise(provider, request, session, redirect_uri)
        if enterprise_id is None:
            return _console(CHOOSER_PAGE, http)
        person = provider.person(request.client, session.user_id, enterprise_id, str(session.id), session.auth_time)
        if person is None:
            raise AccessDeniedError("Not granted this system in this enterprise.", redirect_uri=redirect_uri)
    except OAuth2Error as error:
        error.state = state
        return with_iss(provider.handle_error_response(request, error))
    return with_iss(provider.create_authorization_response(request, grant_user=person, grant=grant))


def _enterprise(provider, request, session, redirect_uri):
    """The enterprise of this login, or None for the chooser."""
    asked = [s[len(ENTERPRISE_SCOPE_PREFIX):] for s in (request.payload.scope or "").split()
             if s.startswith(ENTERPRISE_SCOPE_PREFIX)]
    mine = [m["enterprise_id"] for m in provider.peers.memberships(session.user_id)]
    if len(asked) > 1 or (asked and asked[0] not in mine) or not mine:
        raise AccessDeniedError("Not a member of this enterprise.", redirect_uri=redirect_uri)
    if asked:
        return asked[0]
    if len(mine) == 1:
        return mine[0]
    if request.payload.data.get("prompt") == "none":
        raise InteractionRequiredError(redirect_uri=redirect_uri)
    return None


def token(provider, http):
    response = provider.create_token_response(http)
    response["headers"] += [list(h) for h in browser.cors(provider, http)]
    return response


def userinfo(provider, http):
    refused = answer(401, {"error": "invalid_token"}, [("WWW-Authenticate", 'Bearer error="invalid_token"')])
    scheme, _, value = str((http.get("headers") or {}).get("Authorization", "")).partition(" ")
    family = provider.app.family_of_access(value.strip()) if scheme.lower() == "bearer" else None
    client = provider.query_client(family.client_id) if family is not None else None
    if client is None:
        return refused
    person = provider.person(client, family.user_id, family.enterprise_id, family.session_id, family.auth_time)
    if person is None:
        provider.app.end_family(provider.run, str(family.id), "grant_lost")
        return refused
    return answer(200, person.claims, [])


def discovery():
    iss = issuer()
    return {
        "issuer": iss, "authorization_endpoint": f"{iss}/oauth2/authorize", "token_endpoint": f"{iss}/oauth2/token",
        "userinfo_endpoint": f"{iss}/oauth2/userinfo", "jwks_uri": f"{iss}/.well-known/jwks.json",
        "end_session_endpoint": f"{iss}/oauth2/logout", "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,  # logout tokens carry `sid`, as the ID tokens do
        "response_types_supported": ["code"], "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
        "code_challenge_methods_supported": ["S256"], "authorization_response_iss_parameter_supported": True,
        "scopes_supported": ["openid", "profile", "offline_access"], "prompt_values_supported": ["none", "login"],
        "claims_supported": ["sub", "name", "auth_time", "nonce", "eport_enterprise", "eport_role", "eport_systems",
                             "eport_identity_verified"],
    }



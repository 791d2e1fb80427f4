"""An example business system (报关系统, a customs declaration system) that logs people in through the
platform's single sign-on (OpenID Connect), with Authlib's own client and plain werkzeug.

    EPORT_ISSUER=http://localhost:8000 SSO_CLIENT_ID=... SSO_CLIENT_SECRET=... \\
        python examples/sso_business_system/app.py --port 5000

It shows the person's enterprise, role and granted systems; shows a refusal (`access_denied`: no grant of
this system in the chosen enterprise) in words; and honours back-channel logout: POST /backchannel-logout
takes a logout token, verifies its signature (the provider's JWK set), iss, aud, iat/exp, events and the
absence of a nonce, and ends the local sessions of its `sid` (or of its `sub`). Sessions live in memory.
Nothing here imports the platform's code: a business system has only the provider's URLs and its client.
"""
import argparse
import html
import os
import secrets
import threading

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.jose.errors import JoseError
from authlib.oidc.core import CodeIDToken
from werkzeug.routing import Map, Rule
from werkzeug.serving import run_simple
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
COOKIE = "customs_session"
REFUSALS = {  # error codes of the authorization response, in words
    "access_denied": "Your administrator has not granted you this system in the enterprise you chose "
                     "(or you are not a member of it). Ask them to grant it, then log in again.",
    "login_required": "You are not logged in to the platform.",
}
JWT = JsonWebToken(["ES256"])


class Provider:
    """What the business system knows of the platform: discovery and the JWK set, fetched once."""

    def __init__(self, issuer, client_id, client_secret, redirect_uri):
        self.issuer, self.client_id, self.client_secret = issuer.rstrip("/"), client_id, client_secret
        self.redirect_uri = redirect_uri
        self.meta = requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10).json()
        assert self.meta["issuer"] == self.issuer, "the discovery document names another issuer"

    def keys(self):
        return JsonWebKey.import_key_set(requests.get(self.meta["jwks_uri"], timeout=10).json())

    def oauth(self, **extra):
        return OAuth2Session(self.client_id, self.client_secret, scope="openid profile",
                             redirect_uri=self.redirect_uri, code_challenge_method="S256",
                             token_endpoint_auth_method="client_secret_basic", **extra)

    def id_token_claims(self, token, nonce):
        claims = JWT.decode(token["id_token"], self.keys(), claims_cls=CodeIDToken,
                            claims_options={"iss": {"essential": True, "value": self.issuer},
                                            "aud": {"essential": True, "value": self.client_id}},
                            claims_params={"nonce": nonce, "access_token": token["access_token"]})
        claims.validate(leeway=30)
        return claims

    def logout_token_claims(self, token):
        """The verified claims of a back-channel logout token (OpenID Connect Back-Channel Logout 1.0, 2.6)."""
        claims = JWT.decode(token, self.keys(), claims_options={
            "iss": {"essential": True, "value": self.issuer}, "aud": {"essential": True, "value": self.client_id},
            "iat": {"essential": True}, "exp": {"essential": True}})
        claims.validate(leeway=30)
        if LOGOUT_EVENT not in (claims.get("events") or {}):
            raise JoseError("the logout token has no back-channel logout event")
        if "nonce" in claims:
            raise JoseError("a logout token must not carry a nonce")
        if not (claims.get("sid") or claims.get("sub")):
            raise JoseError("the logout token names neither sid nor sub")
        return claims


class Sessions:
    """The business system's own sessions (in memory), and the logins under way (state -> verifier, nonce)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.active, self.pending = {}, {}

    def start_login(self):
        state, nonce, verifier = (secrets.token_urlsafe(24) for _ in range(3))
        verifier += secrets.token_urlsafe(24)  # 43..128 characters
        with self.lock:
            self.pending[state] = {"nonce": nonce, "verifier": verifier}
        return state, nonce, verifier

    def take_login(self, state):
        with self.lock:
            return self.pending.pop(state or "", None)

    def open(self, claims, token):
        session_id = secrets.token_urlsafe(32)
        with self.lock:
            self.active[session_id] = {"claims": dict(claims), "id_token": token["id_token"]}
        return session_id

    def get(self, session_id):
        with self.lock:
            return self.active.get(session_id or "")

    def end(self, session_id):
        with self.lock:
            self.active.pop(session_id or "", None)

    def end_matching(self, sid=None, sub=None):
        """Ends the sessions of a provider session `sid` (or, without one, all of `sub`); how many ended."""
        with self.lock:
            ended = [k for k, v in self.active.items()
                     if (sid and v["claims"].get("sid") == sid) or (not sid and v["claims"]["sub"] == sub)]
            for k in ended:
                del self.active[k]
        return len(ended)


def page(title, body, status=200):
    return Response(f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
                    f"<h1>{html.escape(title)}</h1>{body}", status=status, content_type="text/html; charset=utf-8",
                    headers={"Cache-Control": "no-store"})


def home_page(session):
    if session is None:
        return page("报关系统 (customs declarations)", '<p>You are not logged in. <a href="/login">Log in with the '
                                                      'platform</a></p>')
    c, e = session["claims"], session["claims"].get("eport_enterprise") or {}
    systems = ", ".join(c.get("eport_systems") or []) or "none"
    return page("报关系统 (customs declarations)", f"""
<p>Logged in as <b id="name">{html.escape(c.get("name", ""))}</b></p>
<dl><dt>Enterprise</dt><dd id="enterprise">{html.escape(e.get("name", ""))}</dd>
<dt>USCC</dt><dd id="uscc">{html.escape(e.get("uscc", ""))}</dd>
<dt>Role</dt><dd id="role">{html.escape(c.get("eport_role", ""))}</dd>
<dt>Granted systems</dt><dd id="systems">{html.escape(systems)}</dd></dl>
<p><a href="/logout">Log out</a></p>""")


class BusinessSystem:
    def __init__(self, provider, post_logout_redirect_uri=None):
        self.provider, self.sessions = provider, Sessions()
        self.post_logout_redirect_uri = post_logout_redirect_uri
        self.routes = Map([Rule("/", endpoint="home"), Rule("/login", endpoint="login"),
                           Rule("/callback", endpoint="callback"), Rule("/logout", endpoint="logout"),
                           Rule("/backchannel-logout", endpoint="backchannel", methods=["POST"])])

    def home(self, request):
        return home_page(self.sessions.get(request.cookies.get(COOKIE)))

    def login(self, request):
        state, nonce, verifier = self.sessions.start_login()
        url, _ = self.provider.oauth().create_authorization_url(
            self.provider.meta["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier)
        return redirect(url)

    def callback(self, request):
        args = request.args
        pending = self.sessions.take_login(args.get("state"))
        if pending is None:
            return page("Login failed", "<p>This login was not started here (unknown state).</p>", 400)
        if args.get("iss") != self.provider.issuer:  # RFC 9207: the answer comes from our provider
            return page("Login failed", "<p>The answer did not come from the platform (iss).</p>", 400)
        if "error" in args:
            words = REFUSALS.get(args["error"], f"The platform refused the login ({args['error']}).")
            return page("Access denied", f'<p id="refusal">{html.escape(words)}</p>', 403)
        oauth = self.provider.oauth(state=args["state"])
        token = oauth.fetch_token(self.provider.meta["token_endpoint"], code=args.get("code"),
                                  code_verifier=pending["verifier"])
        claims = self.provider.id_token_claims(token, pending["nonce"])
        response = redirect("/")
        response.set_cookie(COOKIE, self.sessions.open(claims, token), httponly=True, samesite="Lax")
        return response

    def logout(self, request):
        session = self.sessions.get(request.cookies.get(COOKIE))
        self.sessions.end(request.cookies.get(COOKIE))
        params = {"id_token_hint": session["id_token"]} if session else {"client_id": self.provider.client_id}
        if self.post_logout_redirect_uri:
            params["post_logout_redirect_uri"] = self.post_logout_redirect_uri
        response = redirect(requests.Request("GET", self.provider.meta["end_session_endpoint"],
                                             params=params).prepare().url)
        response.delete_cookie(COOKIE)
        return response

    def backchannel(self, request):
        try:
            claims = self.provider.logout_token_claims(request.form.get("logout_token", ""))
        except (JoseError, ValueError) as exc:
            return Response(f"invalid logout token: {exc}", status=400, headers={"Cache-Control": "no-store"})
        self.sessions.end_matching(sid=claims.get("sid"), sub=claims.get("sub"))
        return Response(status=200, headers={"Cache-Control": "no-store"})

    @Request.application
    def __call__(self, request):
        endpoint, _ = self.routes.bind_to_environ(request.environ).match()
        return getattr(self, endpoint)(request)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--issuer", default=os.environ.get("EPORT_ISSUER", "http://localhost:8000"))
    args = parser.parse_args(argv)
    base = f"http://{'localhost' if args.host == '127.0.0.1' else args.host}:{args.port}"
    base = os.environ.get("EXAMPLE_BASE_URL", base)
    provider = Provider(args.issuer, os.environ["SSO_CLIENT_ID"], os.environ["SSO_CLIENT_SECRET"], f"{base}/callback")
    app = BusinessSystem(provider, os.environ.get("SSO_POST_LOGOUT_REDIRECT_URI"))
    print(f"the business system on {base}/ (redirect URI {base}/callback, back-channel logout "
          f"{base}/backchannel-logout)", flush=True)
    run_simple(args.host, args.port, app, threaded=True)


if __name__ == "__main__":
    main()

"""Single sign-on with a relying party nobody here wrote: Authlib's own OAuth 2 client (requests),
against the launched platform. The client registered with `eport clients add`; PKCE S256, state,
nonce, `iss` (RFC 9207) and the ID token (signature by the JWK set, iss, aud, nonce, at_hash) checked
on the client's side, as a business system would."""
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

from tests.e2e.sso_people import COOKIE, SYSTEM, add_client, enterprise_with_grant, session_cookie

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REDIRECT = "https://customs.example/callback"


@pytest.fixture(scope="module")
def people(api):
    return enterprise_with_grant(api)


@pytest.fixture(scope="module")
def client(platform):
    return add_client(platform, REDIRECT)


@pytest.fixture(scope="module")
def discovery(api):
    r = api.get("/.well-known/openid-configuration")
    assert r.status_code == 200, r.text
    return r.json()


def rp(client, scope="openid profile"):
    return OAuth2Session(client["client_id"], client["client_secret"], scope=scope, redirect_uri=REDIRECT,
                         code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")


def authorize(session, discovery, cookie, verifier, nonce="n-0123456789", **extra):
    url, state = session.create_authorization_url(discovery["authorization_endpoint"], code_verifier=verifier,
                                                  nonce=nonce, **extra)
    r = requests.get(url, headers={"Cookie": f"{COOKIE}={cookie}"} if cookie else {}, allow_redirects=False,
                     timeout=30)
    return r, state


def callback_params(response):
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def login(api, client, discovery, person):
    session, verifier = rp(client), "v" * 20 + "-" + "x" * 40
    r, state = authorize(session, discovery, session_cookie(api, person), verifier)
    got = callback_params(r)
    assert got["state"] == state and got["iss"] == discovery["issuer"]
    token = session.fetch_token(discovery["token_endpoint"], authorization_response=r.headers["Location"],
                                code_verifier=verifier)
    return session, token


def test_oidcc_server_discovery_issuer_equals_the_setting(api, platform, discovery):
    assert discovery["issuer"] == platform.base_url.rstrip("/")
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert discovery["authorization_response_iss_parameter_supported"] is True
    assert api.get("/.well-known/jwks.json").json()["keys"]


def test_oidcc_server_authlib_client_logs_in_a_granted_member(api, client, discovery, people):
    session, token = login(api, client, discovery, people["granted"])
    jwks = JsonWebKey.import_key_set(requests.get(discovery["jwks_uri"], timeout=30).json())
    claims = jwt.decode(token["id_token"], jwks, claims_cls=CodeIDToken,
                        claims_options={"iss": {"essential": True, "value": discovery["issuer"]},
                                        "aud": {"essential": True, "value": client["client_id"]}},
                        claims_params={"nonce": "n-0123456789", "access_token": token["access_token"]})
    claims.validate()
    assert claims["sub"] == people["granted"].user_id and claims["name"] == people["granted"].name
    assert claims["eport_enterprise"] == {"enterprise_id": people["eid"], "uscc": people["uscc"],
                                          "name": claims["eport_enterprise"]["name"]}
    assert claims["eport_role"] == "user" and SYSTEM in claims["eport_systems"]
    assert token["expires_in"] <= 600
    info = session.get(discovery["userinfo_endpoint"])
    assert info.status_code == 200 and info.json()["eport_systems"] == claims["eport_systems"]
    # a business system's token is no API token (aud is its client_id)
    assert api.get("/api/v1/me", token=token["id_token"]).status_code == 401
    assert api.get("/api/v1/me", token=token["access_token"]).status_code == 401


def test_oidcc_ensure_request_without_grant_is_access_denied(api, client, discovery, people):
    r, state = authorize(rp(client), discovery, session_cookie(api, people["ungranted"]), "w" * 50)
    got = callback_params(r)
    assert got["error"] == "access_denied" and got["state"] == state and got["iss"] == discovery["issuer"]
    assert "code" not in got


def test_oidcc_refresh_token_rotates_and_a_reuse_ends_the_family(api, client, discovery, people):
    session, token = login(api, client, discovery, people["granted"])
    renewed = session.refresh_token(discovery["token_endpoint"], refresh_token=token["refresh_token"])
    assert renewed["refresh_token"] != token["refresh_token"]
    reused = requests.post(discovery["token_endpoint"], data={"grant_type": "refresh_token",
                                                               "refresh_token": token["refresh_token"]},
                           auth=(client["client_id"], client["client_secret"]), timeout=30)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    after = requests.post(discovery["token_endpoint"], data={"grant_type": "refresh_token",
                                                              "refresh_token": renewed["refresh_token"]},
                          auth=(client["client_id"], client["client_secret"]), timeout=30)
    assert after.json()["error"] == "invalid_grant"


def test_oidcc_prompt_none_not_logged_in(client, discovery):
    r, state = authorize(rp(client), discovery, None, "z" * 50, prompt="none")
    got = callback_params(r)
    assert got["error"] == "login_required" and got["iss"] == discovery["issuer"] and got["state"] == state


def test_oauth2_pages_cannot_be_framed_and_send_no_cors(client, discovery):
    r, _ = authorize(rp(client), discovery, None, "z" * 50, prompt="none")
    assert r.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert "Access-Control-Allow-Origin" not in r.headers
    assert r.headers["Cache-Control"] == "no-store"

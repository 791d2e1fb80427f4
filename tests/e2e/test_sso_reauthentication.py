"""`prompt=login` and `max_age` against the launched platform: a provider session's auth_time is when its
identity session's login was made (identity says so), never when POST /oauth2/session was called, so an
old API token cannot stand in for the login they ask. Named after the OpenID Foundation's plan modules."""
import time
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from tests.e2e.enterprise_people import PASSWORD
from tests.e2e.sso_people import COOKIE, add_client, enterprise_with_grant, exchange, session_cookie
from tests.sso_support import pkce

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REDIRECT = "https://reauth.example/callback"
LOGIN_PAGE = "/sso/login?"


def login_time(token):
    return jwt.decode(token, options={"verify_signature": False})["iat"]


def authorize(api, client, cookie, challenge, **extra):
    r = api.get("/oauth2/authorize", params={
        "response_type": "code", "client_id": client["client_id"], "redirect_uri": REDIRECT, "scope": "openid",
        "state": "s", "code_challenge": challenge, "code_challenge_method": "S256", **extra},
        headers={"Cookie": f"{COOKIE}={cookie}"}, allow_redirects=False)
    assert r.status_code == 302, r.text
    return r.headers["Location"]


def back(api, return_to, cookie):
    """The console's way back to the authorization request after its login page."""
    r = api.get(return_to, headers={"Cookie": f"{COOKIE}={cookie}"}, allow_redirects=False)
    assert r.status_code == 302, r.text
    return r.headers["Location"]


def test_oidcc_max_age_1_and_prompt_login_need_a_login_not_an_old_token(api, platform):
    person = enterprise_with_grant(api)["granted"]
    client = add_client(platform, REDIRECT)
    time.sleep(max(0.0, login_time(person.token) + 2.2 - time.time()))  # the identity session is 2 s old
    verifier, challenge = pkce()
    # max_age=1 answered with a session begun now from that identity session: a login is asked
    assert authorize(api, client, session_cookie(api, person), challenge, max_age="1").startswith(LOGIN_PAGE)
    # prompt=login: the login page, and a session begun from the old token after it still is not that login
    to_login = authorize(api, client, session_cookie(api, person), challenge, prompt="login")
    assert to_login.startswith(LOGIN_PAGE)
    return_to = parse_qs(urlsplit(to_login).query)["return_to"][0]
    assert back(api, return_to, session_cookie(api, person)).startswith(LOGIN_PAGE)
    # a real login satisfies it, and the ID token's auth_time is that login's time
    r = api.post("/api/v1/sessions", json={"method": "password", "account": person.mobile, "password": PASSWORD})
    assert r.status_code == 201, r.text
    fresh = r.json()["access_token"]
    got = parse_qs(urlsplit(back(api, return_to, session_cookie(api, replace(person, token=fresh)))).query)
    assert "code" in got, got
    tokens = exchange(api, client, got["code"][0], verifier, REDIRECT)
    assert tokens.status_code == 200, tokens.text
    claims = jwt.decode(tokens.json()["id_token"], options={"verify_signature": False})
    assert claims["auth_time"] == int(login_time(fresh)) and claims["sub"] == person.user_id

"""Attacks on the erasure (POST /api/v1/me/erasure) against the launched platform: what the erased
person held must stop working at once (API token, SSO cookie, refresh and access tokens, a code not
yet redeemed), tokens of another audience reach neither personal-data route, and a new person who
registers the released ID number and mobile inherits nothing of the erased one."""
import base64
import hashlib
import itertools
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.enterprise_people import messages, register
from tests.e2e.personal_data_steps import personal_code
from tests.e2e.sso_people import COOKIE, add_client, enterprise_with_grant, session_cookie
from tests.support import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REDIRECT = "https://erasure-attack.example/callback"


@pytest.fixture(scope="module")
def client(platform):
    return add_client(platform, REDIRECT)


def authorize(api, client, cookie):
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    r = api.get("/oauth2/authorize", params={
        "response_type": "code", "client_id": client["client_id"], "redirect_uri": REDIRECT, "scope": "openid",
        "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"},
        headers={"Cookie": f"{COOKIE}={cookie}"}, allow_redirects=False)
    assert r.status_code == 302, r.text
    return r.headers["Location"], verifier


def redeem(api, client, location, verifier):
    code = parse_qs(urlsplit(location).query)["code"][0]
    return api.post("/oauth2/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                           "code_verifier": verifier},
                    auth=(client["client_id"], client["client_secret"]))


def erase(api, person):
    r = api.post("/api/v1/me/erasure", token=person.token, json={"sms_code": personal_code(api, person)})
    assert r.status_code == 202, r.text
    return r.json()


def test_erasure_rule_nothing_the_erased_person_held_works_after_it(api, client):
    """Live SSO tokens, the provider cookie, a code given before the erasure and not yet redeemed, the
    API token: each refused once the erasure is accepted; an ID token never reaches the routes."""
    granted = enterprise_with_grant(api)["granted"]
    cookie = session_cookie(api, granted)
    location, verifier = authorize(api, client, cookie)
    tokens = redeem(api, client, location, verifier).json()
    r = api.post("/api/v1/me/export", token=tokens["id_token"], json={"sms_code": "123456"})
    assert r.status_code == 401, r.text  # a client's ID token is not an API token
    r = api.post("/api/v1/me/erasure", token=tokens["access_token"], json={"sms_code": "123456"})
    assert r.status_code == 401, r.text
    pending, pending_verifier = authorize(api, client, cookie)  # a code the client has not redeemed yet
    erase(api, granted)
    assert api.get("/api/v1/me", token=granted.token).status_code == 401
    answers = []

    def refused():
        r = api.post("/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                     auth=(client["client_id"], client["client_secret"]))
        answers.append((r.status_code, r.text[:300]))
        if r.status_code == 200:
            tokens.update(r.json())  # a rotation: the next try presents the new one
        return r.status_code == 400 and r.json()["error"] == "invalid_grant"
    try:
        wait_for(refused, timeout=20, what="refresh refused", interval=0.5)
    finally:
        print(answers[:3], answers[-3:])
    r = redeem(api, client, pending, pending_verifier)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    r = api.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert r.status_code == 401, r.text
    location, _ = authorize(api, client, cookie)
    assert "code=" not in location, location  # the cookie's session is over: the login page, not a code


def test_erasure_rule_the_released_id_number_and_mobile_inherit_nothing(api, client):
    """The next person registering the erased person's ID number and mobile gets a new account with
    none of the erased one's inbox, associations, grants or sign-ons."""
    people = enterprise_with_grant(api)
    granted = people["granted"]
    cookie = session_cookie(api, granted)
    assert wait_for(lambda: messages(api, granted)["items"], what="the erased person's inbox")
    erase(api, granted)
    # each try from another device: the last register code (the erased person's, or the try before's)
    # is under a minute old, and the SMS cooldown is per mobile and client address
    devices = (api.from_source(f"127.0.8.{n}") for n in itertools.count(2))
    newcomer = wait_for(lambda: _registered(next(devices), granted), timeout=90, interval=0.5,
                        what="the released values registered again")
    assert newcomer.user_id != granted.user_id
    assert messages(api, newcomer)["items"] == []
    r = api.get("/api/v1/me", token=newcomer.token)
    assert r.status_code == 200, r.text
    assert r.json()["associations"] == [] and r.json().get("cards", []) == [], r.text
    r = api.get(f"/api/v1/enterprises/{people['eid']}/members", token=people["admin"].token)
    assert r.status_code == 200 and newcomer.user_id not in r.text, r.text
    location, _ = authorize(api, client, cookie)
    assert "code=" not in location, location  # the erased person's cookie signs no one in


def _registered(api, erased):
    try:
        return register(api, mobile=erased.mobile, id_number=erased.id_number)
    except AssertionError:  # the erasure not done yet: the values still taken
        return None

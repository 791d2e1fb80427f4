"""RP-initiated and back-channel logout against the launched platform, with plain requests and a real
loopback HTTP server as the business system's back-channel logout endpoint. Each trigger once: a logout
at the provider, a revoked grant, a removed membership, a password reset, the identity session logged
out; and an endpoint that is down, tried SSO_BACKCHANNEL_ATTEMPTS times (3 here) and then parked.
Named after the OpenID Foundation's plan modules where one fits."""
import base64
import hashlib
import secrets
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from tests.backchannel_endpoint import Endpoint
from tests.e2e.identity_steps import PASSWORD
from tests.e2e.enterprise_people import apply, approve, person_name
from tests.e2e.identity_claim_steps import card_of, claim_body, register_as
from tests.e2e.sso_people import COOKIE, SYSTEM, add_client, enterprise_with_grant, operator_uri, session_cookie
from tests.eport_cli import eport, json_lines
from tests.factories import new_id_number
from tests.sms import latest_code
from tests.support import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REDIRECT = "https://customs.example/callback"
AFTER = "https://customs.example/signed-out"
EVENT = "http://schemas.openid.net/event/backchannel-logout"


@pytest.fixture
def endpoint():
    served = Endpoint()
    yield served
    served.close()


@pytest.fixture
def client(platform, endpoint):
    return add_client(platform, REDIRECT, "--post-logout-redirect-uri", AFTER, "--backchannel-logout-uri",
                      endpoint.uri)


def authorize(api, client, cookie, **extra):
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    r = api.get("/oauth2/authorize", params={
        "response_type": "code", "client_id": client["client_id"], "redirect_uri": REDIRECT, "scope": "openid",
        "state": "s", "code_challenge": challenge, "code_challenge_method": "S256", **extra},
        headers={"Cookie": f"{COOKIE}={cookie}"}, allow_redirects=False)
    assert r.status_code == 302, r.text
    return {k: v[0] for k, v in parse_qs(urlsplit(r.headers["Location"]).query).items()}, verifier


def logged_in(api, client, person):
    """(cookie, tokens) of the person's login at the client."""
    cookie = session_cookie(api, person)
    got, verifier = authorize(api, client, cookie)
    r = api.post("/oauth2/token", data={"grant_type": "authorization_code", "code": got["code"],
                                        "redirect_uri": REDIRECT, "code_verifier": verifier},
                 auth=(client["client_id"], client["client_secret"]))
    assert r.status_code == 200, r.text
    return cookie, r.json()


def refresh(api, client, tokens):
    return api.post("/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                    auth=(client["client_id"], client["client_secret"]))


def logout_token_claims(api, endpoint, client):
    """The claims of the one logout token the endpoint got, verified with the provider's JWK set."""
    [token] = wait_for(endpoint.tokens, timeout=20, what="a logout token")
    keys = jwt.PyJWKSet.from_dict(api.get("/.well-known/jwks.json").json())
    header = jwt.get_unverified_header(token)
    issuer = api.get("/.well-known/openid-configuration").json()["issuer"]
    claims = jwt.decode(token, keys[header["kid"]].key, algorithms=["ES256"], audience=client["client_id"],
                        issuer=issuer)
    assert header["typ"] == "logout+jwt" and claims["events"] == {EVENT: {}} and "nonce" not in claims
    assert claims["jti"] and claims["iat"] <= claims["exp"]
    return claims


def cookie_logs_in(api, client, cookie):
    return "code" in authorize(api, client, cookie, prompt="none")[0]


def session_ended(api, client, cookie):
    """The provider session of the cookie is over (prompt=none: login_required, not access_denied)."""
    return authorize(api, client, cookie, prompt="none")[0].get("error") == "login_required"


def test_oidcc_backchannel_rp_initiated_logout(api, platform, client, endpoint):
    people = enterprise_with_grant(api)
    person = people["granted"]
    cookie, tokens = logged_in(api, client, person)
    sid = jwt.decode(tokens["id_token"], options={"verify_signature": False})["sid"]
    started = time.monotonic()
    r = api.get("/oauth2/logout", params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": AFTER,
                                          "state": "bye"}, headers={"Cookie": f"{COOKIE}={cookie}"},
                allow_redirects=False)
    answered = time.monotonic() - started
    assert r.status_code == 302 and r.headers["Location"] == AFTER + "?state=bye"
    assert f"{COOKIE}=;" in r.headers["Set-Cookie"] and "Max-Age=0" in r.headers["Set-Cookie"]
    assert session_ended(api, client, cookie)
    assert refresh(api, client, tokens).json()["error"] == "invalid_grant"
    claims = logout_token_claims(api, endpoint, client)
    arrived = endpoint.first_at - started
    print(f"\nlogout answered in {answered * 1000:.0f} ms; its logout token arrived {arrived:.3f} s after the request")
    assert claims["sub"] == person.user_id and claims["sid"] == sid
    # the identity session it rested on ended too
    wait_for(lambda: api.get("/api/v1/me", token=person.token).status_code == 401, timeout=20)
    # and the audit trail holds the logout with ids only
    auditor = (platform.broker_uris or {}).get("auditor", platform.env["AMQP_URI"])

    def audited():
        listed = eport("audit", "--user", person.user_id, "--limit", "100", "--json", amqp_uri=auditor)
        return {e["event_type"]: e["payload"] for e in json_lines(listed)
                if e["event_type"] in ("ProviderSessionEnded", "BackchannelLogoutDue")} or None
    trail = wait_for(lambda: (found := audited()) and len(found) == 2 and found, timeout=20, what="the audit trail")
    ended = trail["ProviderSessionEnded"]
    assert ended == {"session_id": sid, "user_id": person.user_id, "reason": "logged_out",
                     "identity_session_id": ended["identity_session_id"], "ends_identity_session": True}
    assert trail["BackchannelLogoutDue"] == {"notice_id": claims["jti"], "client_id": client["client_id"],
                                             "user_id": person.user_id, "session_id": sid, "reason": "logged_out"}


@pytest.mark.parametrize("variant", [AFTER + "/", AFTER.upper(), AFTER + "?x=1", "https://customs.example/a/../signed-out",
                                     "https://evil@customs.example/signed-out"])
def test_oidcc_rp_initiated_logout_unregistered_post_logout_redirect_uri(api, client, variant):
    r = api.get("/oauth2/logout", params={"client_id": client["client_id"], "post_logout_redirect_uri": variant},
                allow_redirects=False)
    assert r.status_code == 400 and "Location" not in r.headers and r.headers["Cache-Control"] == "no-store"


def test_oidcc_rp_initiated_logout_forged_id_token_hint(api, client):
    forged = jwt.encode({"iss": api.base, "aud": client["client_id"], "sub": "x"}, "s" * 32, algorithm="HS256")
    r = api.get("/oauth2/logout", params={"id_token_hint": forged, "post_logout_redirect_uri": AFTER},
                allow_redirects=False)
    assert r.status_code == 400 and "Location" not in r.headers


def test_oidcc_backchannel_logout_after_a_revoked_grant(api, client, endpoint):
    people = enterprise_with_grant(api)
    person, admin = people["granted"], people["admin"]
    cookie, tokens = logged_in(api, client, person)
    r = api.put(f"/api/v1/enterprises/{people['eid']}/members/{person.user_id}/permissions", token=admin.token,
                json={"systems": []})
    assert r.status_code == 200, r.text
    assert logout_token_claims(api, endpoint, client)["sub"] == person.user_id
    assert refresh(api, client, tokens).json()["error"] == "invalid_grant"
    # the provider session lives on (only this client's tokens ended): its next authorization is refused
    # at once, without the login page, as every authorization request checks the grant again
    assert authorize(api, client, cookie)[0]["error"] == "access_denied"
    assert authorize(api, client, cookie, prompt="none")[0]["error"] == "access_denied"


def test_oidcc_backchannel_logout_after_a_removed_membership(api, client, endpoint):
    people = enterprise_with_grant(api)
    person, admin = people["granted"], people["admin"]
    _, tokens = logged_in(api, client, person)
    r = api.delete(f"/api/v1/enterprises/{people['eid']}/members/{person.user_id}", token=admin.token)
    assert r.status_code == 204, r.text
    assert logout_token_claims(api, endpoint, client)["sub"] == person.user_id
    assert refresh(api, client, tokens).json()["error"] == "invalid_grant"


def test_oidcc_backchannel_logout_after_a_password_reset(api, client, endpoint):
    person = enterprise_with_grant(api)["granted"]
    cookie, tokens = logged_in(api, client, person)
    assert api.post("/api/v1/sms-codes", json={"mobile": person.mobile, "purpose": "reset_password"}).status_code == 202
    r = api.post("/api/v1/password-resets", json={"mobile": person.mobile, "new_password": PASSWORD + "-r",
                                                  "sms_code": latest_code(person.mobile, "reset_password")})
    assert r.status_code == 204, r.text
    assert logout_token_claims(api, endpoint, client)["sub"] == person.user_id
    assert refresh(api, client, tokens).json()["error"] == "invalid_grant"
    wait_for(lambda: session_ended(api, client, cookie), timeout=20, what="the provider session ended")


def test_oidcc_backchannel_logout_after_a_supersession(api, client, endpoint):
    people = enterprise_with_grant(api)
    name, id_number = person_name(), new_id_number()
    squatter = register_as(api, name, id_number)  # no card: a card holder of that ID number supersedes them
    approve(api, people["admin"], apply(api, squatter, people["uscc"]))
    path = f"/api/v1/enterprises/{people['eid']}/members/{squatter.user_id}/permissions"
    wait_for(lambda: api.put(path, token=people["admin"].token, json={"systems": [SYSTEM]}).status_code == 200)
    cookie, tokens = logged_in(api, client, squatter)
    r = api.post("/api/v1/identity-claims", json=claim_body(api, card_of(name, id_number), name, id_number))
    assert r.status_code == 201 and r.json()["superseded_user_id"] == squatter.user_id, r.text
    assert logout_token_claims(api, endpoint, client)["sub"] == squatter.user_id
    assert refresh(api, client, tokens).json()["error"] == "invalid_grant"
    wait_for(lambda: session_ended(api, client, cookie), timeout=20, what="the provider session ended")


def test_the_sso_cookie_ends_with_the_identity_session_it_rests_on(api, client, endpoint):
    person = enterprise_with_grant(api)["granted"]
    cookie, tokens = logged_in(api, client, person)
    assert cookie_logs_in(api, client, cookie)
    assert api.delete("/api/v1/sessions/current", token=person.token).status_code == 204
    wait_for(lambda: session_ended(api, client, cookie), timeout=20, what="the cookie refused")
    assert logout_token_claims(api, endpoint, client)["sub"] == person.user_id
    assert refresh(api, client, tokens).json()["error"] == "invalid_grant"


@pytest.mark.parametrize("origin", ["https://crm.example", "null"])
def test_a_logout_confirmation_posted_from_another_origin_ends_nothing(api, client, origin):
    """Through the gateway (which must hand the Origin on) to sso: a foreign page posting confirm=yes with
    the Lax cookie gets the confirmation page again and the session lives; the issuer's own page ends it."""
    person = enterprise_with_grant(api)["granted"]
    cookie, _ = logged_in(api, client, person)
    issuer = urlsplit(api.get("/.well-known/openid-configuration").json()["issuer"])

    def confirm(page_origin):
        return api.post("/oauth2/logout", data={"confirm": "yes"}, allow_redirects=False,
                        headers={"Cookie": f"{COOKIE}={cookie}", "Origin": page_origin})
    page = confirm(origin)
    assert page.status_code == 200 and 'method="post"' in page.text and "Set-Cookie" not in page.headers
    assert cookie_logs_in(api, client, cookie)
    ended = confirm(f"{issuer.scheme}://{issuer.netloc}")
    assert ended.status_code == 200 and 'method="post"' not in ended.text and "Max-Age=0" in ended.headers["Set-Cookie"]
    assert session_ended(api, client, cookie)


def parked_logouts(platform):
    """{message_id: summary} of the logout tokens parked in the dead-letter queue of their consumer."""
    listed = eport("dead-letters", "list", "sso.sso-events", "--json", amqp_uri=operator_uri(platform), check=False)
    if listed.returncode == 2 and "was ever parked" in listed.stderr:
        return {}
    assert listed.returncode == 0, listed.stderr
    return {i["message_id"]: i for i in json_lines(listed) if i["event_type"] == "BackchannelLogoutDue"}


def test_a_down_backchannel_endpoint_is_retried_then_dead_lettered(api, platform):
    down = Endpoint(status=503)
    try:
        client = add_client(platform, REDIRECT, "--backchannel-logout-uri", down.uri)
        _, tokens = logged_in(api, client, enterprise_with_grant(api)["granted"])
        before = parked_logouts(platform)
        r = api.get("/oauth2/logout", params={"id_token_hint": tokens["id_token"]}, allow_redirects=False)
        assert r.status_code == 200, r.text  # the trigger does not wait for the business system
        wait_for(lambda: len(down.received) >= 3, timeout=30, what="3 tries")
        new = wait_for(lambda: {k: v for k, v in parked_logouts(platform).items() if k not in before}, timeout=30,
                       interval=0.5, what="the logout token parked")
        [item] = new.values()
        assert "503" in item["reason"] and item["failures"] == 3
        jtis = {jwt.decode(t, options={"verify_signature": False})["jti"] for t in down.tokens()}
        assert len(down.received) == 3 and len(jtis) == 1  # one logout token (its jti) on each try
    finally:
        down.close()


def test_discovery_names_the_logout_endpoints(api):
    doc = requests.get(api.base + "/.well-known/openid-configuration", timeout=30).json()
    assert doc["end_session_endpoint"] == doc["issuer"] + "/oauth2/logout"
    assert doc["backchannel_logout_supported"] is True and doc["backchannel_logout_session_supported"] is True


def test_eport_clients_add_refuses_a_system_not_in_the_catalogue(platform):
    done = eport("clients", "add", "--name", "无名系统", "--system", "no_such_system", "--redirect-uri", REDIRECT,
                 amqp_uri=operator_uri(platform), check=False)
    assert done.returncode == 2 and "no_such_system" in done.stderr and "GET /api/v1/systems" in done.stderr


def test_eport_clients_add_public_prints_no_secret_and_list_says_none(platform):
    spa = "https://spa.example/callback.html"
    done = eport("clients", "add", "--name", "浏览器系统", "--system", SYSTEM, "--redirect-uri", spa, "--public",
                 amqp_uri=operator_uri(platform))
    assert "client_id:" in done.stdout and "client_secret" not in done.stdout and "none" in done.stdout
    client_id = done.stdout.split("client_id:")[1].split()[0]
    listed = [line for line in eport("clients", "list", amqp_uri=operator_uri(platform)).stdout.splitlines()
              if line.startswith(client_id)]
    assert len(listed) == 1 and "auth=none" in listed[0]
    eport("clients", "remove", client_id, amqp_uri=operator_uri(platform))

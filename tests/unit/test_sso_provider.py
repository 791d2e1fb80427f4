"""The provider's rules on the in-memory store, with stand-ins for identity, enterprise and authz:
each test is named after the OpenID Foundation basic certification module it mirrors where there is one."""
import base64
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from contracts.tokens import TokenVerifier
from services.sso import flows
from tests.sso_support import (ENTERPRISE, ISS, OTHER, REDIRECT, USER, authorize, begin, body, code_flow, location,
                               pkce, provider, query, sso_env, token_request)

pytestmark = pytest.mark.unit


@pytest.fixture
def env(monkeypatch):
    return sso_env(monkeypatch)


def test_oidcc_server_code_flow_gives_claims_signed_for_the_client(env):
    got, _, answer = code_flow(env)
    assert got["iss"] == ISS and got["state"] == "st-1"
    assert answer["status"] == 200, answer
    tokens = body(answer)
    claims = jwt.decode(tokens["id_token"], env.peers.keys[0].public_key(), algorithms=["ES256"],
                        audience=env.client["client_id"], issuer=ISS)
    assert claims["sub"] == USER and claims["nonce"] == "n-1" and claims["eport_role"] == "admin"
    assert claims["eport_enterprise"]["enterprise_id"] == ENTERPRISE and claims["eport_systems"] == ["crm"]
    assert TokenVerifier(env.peers.tokens.jwks).claims(tokens["id_token"]) is None  # no API token
    assert tokens["expires_in"] <= 600


def test_oidcc_ensure_pkce_required_and_s256_only(env):
    _, challenge = pkce()
    for params in ({}, {"code_challenge": challenge, "code_challenge_method": "plain"},
                   {"code_challenge": challenge}):
        got = query(authorize(env, **params))
        assert got["error"] == "invalid_request" and got["iss"] == ISS and "code" not in got


@pytest.mark.parametrize("variant", [REDIRECT + "/", REDIRECT.upper(), REDIRECT + "?x=1",
                                     "https://crm.example/callback/../callback", "https://evil@crm.example/callback",
                                     "https://crm.example.evil/callback"])
def test_oidcc_ensure_registered_redirect_uri(env, variant):
    verifier, challenge = pkce()
    answer = authorize(env, redirect_uri=variant, code_challenge=challenge, code_challenge_method="S256")
    assert answer["status"] == 400 and "Location" not in dict(answer["headers"])


def test_oidcc_codereuse_30seconds_revokes_the_first_tokens(env):
    got, verifier, answer = code_flow(env)
    first = body(answer)
    again = token_request(env, {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": REDIRECT,
                                "code_verifier": verifier})
    assert again["status"] == 400 and body(again)["error"] == "invalid_grant"
    info = env.app.userinfo(provider(env), {"headers": {"Authorization": f"Bearer {first['access_token']}"}})
    assert info["status"] == 401
    refreshed = token_request(env, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert body(refreshed)["error"] == "invalid_grant"


def test_oidcc_refresh_token_rotation_and_reuse_ends_the_family(env):
    _, _, answer = code_flow(env)
    first = body(answer)
    second = body(token_request(env, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}))
    assert second["refresh_token"] != first["refresh_token"]
    reused = token_request(env, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert body(reused)["error"] == "invalid_grant"
    after = token_request(env, {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]})
    assert body(after)["error"] == "invalid_grant"  # the whole family ended, the thief's and the owner's


def test_oidcc_prompt_none_not_logged_in(env):
    got = query(authorize(env, cookie=None, prompt="none", code_challenge=pkce()[1], code_challenge_method="S256"))
    assert got["error"] == "login_required" and got["iss"] == ISS and got["state"] == "st-1"


def test_oidcc_max_age_1_sends_back_to_login(env):
    env.clock.advance(5)
    answer = authorize(env, max_age="1", code_challenge=pkce()[1], code_challenge_method="S256")
    assert location(answer).startswith(flows.LOGIN_PAGE)
    got = query(authorize(env, max_age="1", prompt="none", code_challenge=pkce()[1], code_challenge_method="S256"))
    assert got["error"] == "login_required"


def test_no_grant_is_access_denied(env):
    env.peers.granted = {}
    got = query(authorize(env, code_challenge=pkce()[1], code_challenge_method="S256"))
    assert got["error"] == "access_denied" and got["iss"] == ISS


def test_not_a_member_of_the_asked_enterprise_is_access_denied(env):
    got = query(authorize(env, scope=f"openid eport:enterprise:{OTHER}", code_challenge=pkce()[1],
                          code_challenge_method="S256"))
    assert got["error"] == "access_denied"


def test_revoked_grant_ends_refresh(env):
    _, _, answer = code_flow(env)
    env.peers.granted = {}
    refreshed = token_request(env, {"grant_type": "refresh_token", "refresh_token": body(answer)["refresh_token"]})
    assert body(refreshed)["error"] == "invalid_grant"


def test_wrong_client_secret_is_refused(env):
    verifier, challenge = pkce()
    got = query(authorize(env, code_challenge=challenge, code_challenge_method="S256"))
    answer = token_request(env, {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": REDIRECT,
                                 "code_verifier": verifier}, secret="not-the-secret")
    assert answer["status"] == 401 and body(answer)["error"] == "invalid_client"


def test_wrong_verifier_is_invalid_grant(env):
    _, challenge = pkce()
    got = query(authorize(env, code_challenge=challenge, code_challenge_method="S256"))
    answer = token_request(env, {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": REDIRECT,
                                 "code_verifier": pkce()[0]})
    assert body(answer)["error"] == "invalid_grant"


def test_token_request_without_verifier_is_refused(env):
    _, challenge = pkce()
    got = query(authorize(env, code_challenge=challenge, code_challenge_method="S256"))
    answer = token_request(env, {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": REDIRECT})
    assert answer["status"] == 400 and body(answer)["error"] == "invalid_request"


def test_several_enterprises_go_to_the_chooser_or_interaction_required(env):
    env.peers.enterprises[OTHER] = "user"
    answer = authorize(env, code_challenge=pkce()[1], code_challenge_method="S256")
    assert location(answer).startswith(flows.CHOOSER_PAGE)
    got = query(authorize(env, prompt="none", code_challenge=pkce()[1], code_challenge_method="S256"))
    assert got["error"] == "interaction_required" and got["iss"] == ISS
    chosen = query(authorize(env, scope=f"openid eport:enterprise:{ENTERPRISE}", code_challenge=pkce()[1],
                             code_challenge_method="S256"))
    assert "code" in chosen


# -- the console's pages: a login demanded once, the chooser, CORS of the token endpoint -------------------
def return_to(answer, page=flows.LOGIN_PAGE):
    assert location(answer).startswith(page + "?"), location(answer)
    return parse_qs(urlsplit(location(answer)).query)["return_to"][0]


def follow(env, back, cookie):
    """The console's way back: the browser goes to return_to with its (new) session cookie."""
    assert back.startswith("/oauth2/authorize?")
    http = {"method": "GET", "path": "/oauth2/authorize", "args": parse_qs(urlsplit(back).query),
            "headers": {}, "cookie": cookie}
    return env.app.authorize(provider(env), http)


def logged_in_again(env):
    env.clock.advance(1)
    return begin(env.app, "s-2", env.clock())


@pytest.mark.parametrize("demand", [{"prompt": "login"}, {"max_age": "0"}, {"max_age": "1"}])
def test_oidcc_prompt_login_and_max_age_ask_a_login_once_then_continue(env, demand):
    env.clock.advance(5)
    back = return_to(authorize(env, code_challenge=pkce()[1], code_challenge_method="S256", **demand))
    assert flows.LOGIN_MARK in back
    assert location(follow(env, back, env.cookie)).startswith(flows.LOGIN_PAGE)  # no login since: asked again
    fresh = logged_in_again(env)
    env.clock.advance(3)  # the login took a while: still the one this request asked for
    got = query(follow(env, back, fresh))
    assert "code" in got and got["state"] == "st-1" and got["iss"] == ISS
    # the same request without the mark (or a new one) asks again, with the new session too
    again = back.replace(flows.LOGIN_MARK, "other")
    assert location(follow(env, again, fresh)).startswith(flows.LOGIN_PAGE)


def test_oidcc_prompt_login_then_the_chooser_then_on(env):
    env.peers.enterprises[OTHER] = "user"
    back = return_to(authorize(env, prompt="login", code_challenge=pkce()[1], code_challenge_method="S256"))
    fresh = logged_in_again(env)
    chooser = return_to(follow(env, back, fresh), flows.CHOOSER_PAGE)
    chosen = {i["enterprise_id"]: i for i in body(choices(env, chooser, fresh))["items"]}[ENTERPRISE]
    got = query(follow(env, chosen["continue_to"], fresh))
    assert "code" in got and got["state"] == "st-1"  # the login asked for is still the one done: no loop


def test_a_login_mark_fits_no_other_request(env):
    back = return_to(authorize(env, prompt="login", code_challenge=pkce()[1], code_challenge_method="S256"))
    mark = parse_qs(urlsplit(back).query)[flows.LOGIN_MARK][0]
    fresh = logged_in_again(env)
    other = return_to(authorize(env, prompt="login", code_challenge=pkce()[1], code_challenge_method="S256"))
    pasted = other.replace(parse_qs(urlsplit(other).query)[flows.LOGIN_MARK][0], mark)
    assert location(follow(env, pasted, fresh)).startswith(flows.LOGIN_PAGE)
    earlier = back.replace(mark, "0." + mark.partition(".")[2])
    assert location(follow(env, earlier, fresh)).startswith(flows.LOGIN_PAGE)


def choices(env, back, cookie="default"):
    http = {"method": "GET", "path": "/oauth2/choices", "args": {"return_to": [back]}, "headers": {},
            "cookie": env.cookie if cookie == "default" else cookie}
    return flows.browser.choices(provider(env), http)


def test_the_chooser_shows_what_the_service_answers(env):
    env.peers.enterprises[OTHER] = "user"
    back = return_to(authorize(env, code_challenge=pkce()[1], code_challenge_method="S256"), flows.CHOOSER_PAGE)
    answer = choices(env, back)
    assert answer["status"] == 200
    shown = body(answer)
    assert shown["client"] == {"name": "CRM"}
    items = {i["enterprise_id"]: i for i in shown["items"]}
    assert items[ENTERPRISE]["granted"] is True and items[OTHER]["granted"] is False  # crm granted in one
    got = query(follow(env, items[ENTERPRISE]["continue_to"], env.cookie))
    assert "code" in got and got["state"] == "st-1"
    denied = query(follow(env, items[OTHER]["continue_to"], env.cookie))
    assert denied["error"] == "access_denied"  # the service decides, whatever the page shows


@pytest.mark.parametrize("back", ["/oauth2/token?client_id=x", "https://evil.example/oauth2/authorize?client_id=x",
                                  "/oauth2/authorize?client_id=6a0f1f7e-2f1e-4a8e-9c55-0b2d8c1f0a09", "", None])
def test_the_chooser_answers_only_a_registered_clients_request(env, back):
    from contracts.errors import ValidationFailed
    with pytest.raises(ValidationFailed) as refused:
        choices(env, back)
    assert "return_to" in refused.value.details


def test_the_chooser_needs_a_session(env):
    from contracts.errors import Unauthenticated
    back = f"/oauth2/authorize?client_id={env.client['client_id']}&scope=openid"
    with pytest.raises(Unauthenticated):
        choices(env, back, cookie=None)


def test_the_token_endpoint_answers_pages_of_its_clients_origins_only(env):
    verifier, challenge = pkce()
    got = query(authorize(env, code_challenge=challenge, code_challenge_method="S256"))
    auth = base64.b64encode(f"{env.client['client_id']}:{env.client['client_secret']}".encode()).decode()
    form = {"grant_type": ["authorization_code"], "code": [got["code"]], "redirect_uri": [REDIRECT],
            "code_verifier": [verifier]}

    def token(origin):
        http = {"method": "POST", "path": "/oauth2/token", "args": {}, "form": form,
                "headers": {"Authorization": f"Basic {auth}", "Origin": origin}}
        return dict(tuple(h) for h in env.app.token(provider(env), http)["headers"])

    assert token("https://crm.example")["Access-Control-Allow-Origin"] == "https://crm.example"
    for origin in ("https://evil.example", "https://crm.example.evil", "null", "https://crm.example:8443"):
        assert "Access-Control-Allow-Origin" not in token(origin)
        pre = flows.browser.preflight(provider(env), {"headers": {"Origin": origin}})
        assert "Access-Control-Allow-Origin" not in dict(pre["headers"])
    pre = dict(flows.browser.preflight(provider(env), {"headers": {"Origin": "https://crm.example"}})["headers"])
    assert pre["Access-Control-Allow-Origin"] == "https://crm.example" and "Authorization" in pre[
        "Access-Control-Allow-Headers"]


# -- auth_time is the identity session's login, never when the provider session began (issue 23, hardening) --
def test_oidcc_max_age_1_a_session_begun_now_from_an_older_login_asks_a_login(env):
    old_login = env.clock()
    env.clock.advance(2)
    cookie = begin(env.app, "s-old", old_login)  # POST /oauth2/session now, with a token of 2 s ago
    answer = authorize(env, cookie=cookie, max_age="1", code_challenge=pkce()[1], code_challenge_method="S256")
    assert location(answer).startswith(flows.LOGIN_PAGE)


def test_oidcc_prompt_login_is_not_satisfied_by_a_session_begun_from_an_older_login(env):
    old_login = env.clock()
    env.clock.advance(5)
    back = return_to(authorize(env, prompt="login", code_challenge=pkce()[1], code_challenge_method="S256"))
    env.clock.advance(1)
    cookie = begin(env.app, "s-old", old_login)  # begun after the demand, from a login before it
    assert location(follow(env, back, cookie)).startswith(flows.LOGIN_PAGE)


def test_the_id_tokens_auth_time_is_the_identity_sessions_login(env):
    login = env.clock() - 7.4
    env.cookie = begin(env.app, "s-old", login)
    _, _, answer = code_flow(env)
    claims = jwt.decode(body(answer)["id_token"], options={"verify_signature": False})
    assert claims["auth_time"] == int(login)


def test_enterprise_scope_rule_only_approved_associations_are_memberships():
    """An applicant (pending), a refused or a removed member naming that enterprise in the scope or the
    chooser is no member of it: single sign-on's peers keep approved associations only."""
    from contracts import enterprise as ent
    from services.sso.peers import Peers

    class Enterprise:
        @staticmethod
        def associations_of_user(user_id):
            return [{"enterprise_id": status, "status": status} for status in ent.STATUSES]

    assert [m["enterprise_id"] for m in Peers(None, Enterprise(), None).memberships(USER)] == [ent.APPROVED]

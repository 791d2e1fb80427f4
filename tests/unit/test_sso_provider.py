"""The provider's rules on the in-memory store, with stand-ins for identity, enterprise and authz:
each test is named after the OpenID Foundation basic certification module it mirrors where there is one."""
import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from contracts.tokens import Tokens, TokenVerifier, load_private_keys, new_private_pem
from services.sso import flows
from services.sso.application import SsoApplication
from services.sso.provider import Provider
from tests.support import Clock

pytestmark = pytest.mark.unit

ISS = "http://localhost:8000"
REDIRECT = "https://crm.example/callback"
ENTERPRISE, OTHER = "6a0f1f7e-2f1e-4a8e-9c55-0b2d8c1f0a01", "6a0f1f7e-2f1e-4a8e-9c55-0b2d8c1f0a02"
USER = "7b1f2f7e-2f1e-4a8e-9c55-0b2d8c1f0a01"


class FakePeers:
    def __init__(self):
        self.keys = load_private_keys(new_private_pem())
        self.tokens = Tokens(self.keys, 600)
        self.enterprises = {ENTERPRISE: "admin"}
        self.granted = {ENTERPRISE: ["crm"]}

    def user(self, user_id):
        return {"user_id": user_id, "name": "张三", "identity_verified": True}

    def memberships(self, user_id):
        return [{"enterprise_id": e, "role": r, "uscc": "91350200MA2Y0001X1", "enterprise_name": "厦门某公司",
                 "status": "approved"} for e, r in self.enterprises.items()]

    def systems(self, user_id, enterprise_id):
        return list(self.granted.get(enterprise_id, []))

    def sign(self, claims):
        return self.tokens.sign_for_client(claims, ISS)


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("EVENT_STORE", "memory")
    monkeypatch.setenv("EPORT_ENV", "development")
    monkeypatch.setenv("EPORT_ISSUER", ISS)
    clock = Clock(1_800_000_000.0)
    app = SsoApplication(clock=clock)
    peers = FakePeers()
    client = app.add_client("CRM", "crm", [REDIRECT])
    cookie = app.begin_session(USER, "s-1", clock() + 1800)
    return type("Env", (), {"app": app, "peers": peers, "client": client, "cookie": cookie, "clock": clock})


def provider(env):
    return Provider(env.app, env.peers)


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(env, cookie="default", **params):
    args = {"response_type": "code", "client_id": env.client["client_id"], "redirect_uri": REDIRECT,
            "scope": "openid profile", "state": "st-1", "nonce": "n-1", **params}
    args = {k: [v] for k, v in args.items() if v is not None}
    http = {"method": "GET", "path": "/oauth2/authorize", "args": args, "headers": {},
            "cookie": env.cookie if cookie == "default" else cookie}
    return env.app.authorize(provider(env), http)


def location(response):
    return dict(response["headers"])["Location"]


def query(response):
    return {k: v[0] for k, v in parse_qs(urlsplit(location(response)).query).items()}


def token_request(env, form, secret=None):
    auth = base64.b64encode(f"{env.client['client_id']}:{secret or env.client['client_secret']}".encode()).decode()
    http = {"method": "POST", "path": "/oauth2/token", "args": {}, "form": {k: [v] for k, v in form.items()},
            "headers": {"Authorization": f"Basic {auth}"}}
    return env.app.token(provider(env), http)


def code_flow(env):
    verifier, challenge = pkce()
    got = query(authorize(env, code_challenge=challenge, code_challenge_method="S256"))
    answer = token_request(env, {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": REDIRECT,
                                 "code_verifier": verifier})
    return got, verifier, answer


def body(answer):
    import json
    return json.loads(answer["body"])


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

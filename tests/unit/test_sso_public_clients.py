"""Public clients (`eport clients add --public`: a relying party in the browser, no secret): they authenticate
with token_endpoint_auth_method `none` and nothing else, PKCE S256 still required, their refresh tokens rotate
and are bound to them; confidential clients never pass with `none`. On the in-memory store (tests/sso_support.py)."""
import pytest

from services.sso import flows
import base64

from tests.sso_support import REDIRECT, authorize, body, pkce, provider, query, sso_env, token_request

pytestmark = pytest.mark.unit

SPA = "https://spa.example/callback.html"


@pytest.fixture
def env(monkeypatch):
    made = sso_env(monkeypatch)
    made.spa = made.app.add_client("SPA", "crm", [SPA], public=True)
    return made


def public_token(env, form, client_id=None, basic=None):
    """A token request of the public client: its client_id in the form, no Authorization (or `basic`)."""
    form = {"client_id": client_id or env.spa["client_id"], **form}
    http = {"method": "POST", "path": "/oauth2/token", "args": {}, "form": {k: [v] for k, v in form.items()},
            "headers": {"Authorization": f"Basic {basic}"} if basic else {}}
    return env.app.token(provider(env), http)


def spa_code(env, challenge):
    return query(authorize(env, client_id=env.spa["client_id"], redirect_uri=SPA, code_challenge=challenge,
                           code_challenge_method="S256"))


def test_eport_clients_add_public_gives_no_secret(env):
    assert "client_secret" not in env.spa and env.spa["token_endpoint_auth_method"] == "none"
    assert env.client["token_endpoint_auth_method"] == "client_secret_basic" and env.client["client_secret"]
    listed = {c["client_id"]: c for c in env.app.list_clients()}
    assert listed[env.spa["client_id"]]["token_endpoint_auth_method"] == "none"
    assert flows.discovery()["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "none"]


def test_oidcc_public_client_code_flow_with_pkce_and_rotating_refresh(env):
    verifier, challenge = pkce()
    got = spa_code(env, challenge)
    answer = public_token(env, {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": SPA,
                                "code_verifier": verifier})
    assert answer["status"] == 200, answer
    first = body(answer)
    assert first["id_token"] and first["refresh_token"]
    second = body(public_token(env, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}))
    assert second["refresh_token"] != first["refresh_token"]
    reused = public_token(env, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert body(reused)["error"] == "invalid_grant"
    after = public_token(env, {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]})
    assert body(after)["error"] == "invalid_grant"  # the family ended


def test_a_public_client_still_needs_pkce_s256(env):
    for params in ({}, {"code_challenge": pkce()[1], "code_challenge_method": "plain"}):
        got = query(authorize(env, client_id=env.spa["client_id"], redirect_uri=SPA, **params))
        assert got["error"] == "invalid_request" and "code" not in got
    got = spa_code(env, pkce()[1])
    answer = public_token(env, {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": SPA})
    assert answer["status"] == 400 and body(answer)["error"] == "invalid_request"  # no code_verifier


def test_a_confidential_clients_code_without_its_secret_is_refused(env):
    verifier, challenge = pkce()
    got = query(authorize(env, code_challenge=challenge, code_challenge_method="S256"))
    answer = public_token(env, {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": REDIRECT,
                                "code_verifier": verifier}, client_id=env.client["client_id"])
    assert answer["status"] == 401 and body(answer)["error"] == "invalid_client"
    # the code is still the client's to redeem, with its secret
    redeemed = token_request(env, {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": REDIRECT,
                                   "code_verifier": verifier})
    assert redeemed["status"] == 200, redeemed


def test_a_public_clients_refresh_token_is_bound_to_it(env):
    verifier, challenge = pkce()
    got = spa_code(env, challenge)
    tokens = body(public_token(env, {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": SPA,
                                     "code_verifier": verifier}))
    other = env.app.add_client("Other SPA", "crm", ["https://other.example/cb"], public=True)
    stolen = public_token(env, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                          client_id=other["client_id"])
    assert body(stolen)["error"] == "invalid_grant"
    by_confidential = token_request(env, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert body(by_confidential)["error"] == "invalid_grant"
    mine = public_token(env, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert mine["status"] == 200, mine  # neither attempt was the owner's rotation


def test_a_public_client_cannot_pass_with_a_secret(env):
    verifier, challenge = pkce()
    got = spa_code(env, challenge)
    basic = base64.b64encode(f"{env.spa['client_id']}:guessed".encode()).decode()
    answer = public_token(env, {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": SPA,
                                "code_verifier": verifier}, basic=basic)
    assert answer["status"] == 401 and body(answer)["error"] == "invalid_client"


def test_the_audit_trail_learns_how_a_client_authenticates(env):
    from uuid import UUID

    from services.sso.integration import to_integration

    def registered(client):
        [event] = [e for e in env.app.events.get(UUID(client["client_id"])) if type(e).__name__ == "Registered"]
        return next(to_integration(event))["payload"]
    assert registered(env.spa)["token_endpoint_auth_method"] == "none"
    assert registered(env.client)["token_endpoint_auth_method"] == "client_secret_basic"

"""The example business system's back-channel logout (examples/sso_business_system/app.py) refuses each kind
of bad logout token (OpenID Connect Back-Channel Logout 1.0, 2.6) and ends only the sessions of the token's
`sid`, or without one all of its `sub`: its POST endpoint through werkzeug's test client, with a key of the
test's own standing for the provider's JWK set. The end-to-end run is tests/e2e/test_sso_example_business_system.py."""
import importlib.util
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug.test import Client

pytestmark = pytest.mark.unit

SPEC = importlib.util.spec_from_file_location(
    "sso_example_app", Path(__file__).resolve().parents[2] / "examples" / "sso_business_system" / "app.py")
example = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(example)

ISS, CLIENT = "http://127.0.0.1:8000", "client-1"
KEY = ec.generate_private_key(ec.SECP256R1())


class LocalProvider(example.Provider):
    def __init__(self):  # no discovery over the network: the test's key is the provider's JWK set
        self.issuer, self.client_id, self.client_secret, self.redirect_uri = ISS, CLIENT, "s", "x"
        self.meta = {}

    def keys(self):
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(KEY.public_key()))
        return example.JsonWebKey.import_key_set({"keys": [{**jwk, "kid": "k1"}]})


def logout_token(key=KEY, **changes):
    now = int(time.time())
    claims = {"iss": ISS, "aud": CLIENT, "iat": now, "exp": now + 120, "jti": "j-1", "sub": "u-1", "sid": "s-1",
              "events": {example.LOGOUT_EVENT: {}}, **changes}
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm="ES256",
                      headers={"typ": "logout+jwt", "kid": "k1"})


@pytest.fixture
def system():
    app = example.BusinessSystem(LocalProvider())
    for sub, sid in (("u-1", "s-1"), ("u-1", "s-2"), ("u-2", "s-3")):
        app.sessions.open({"sub": sub, "sid": sid}, {"id_token": "t"})
    return app


def post(app, token):
    return Client(app).post("/backchannel-logout", data={"logout_token": token}).status_code


def left(app):
    return sorted(s["claims"]["sid"] for s in app.sessions.active.values())


@pytest.mark.parametrize("bad", [
    {"key": ec.generate_private_key(ec.SECP256R1())},  # another's signature
    {"iss": "https://evil.example"}, {"aud": "another-client"}, {"exp": int(time.time()) - 300},
    {"events": None}, {"events": {"http://schemas.openid.net/event/other": {}}},
    {"nonce": "n-1"},  # a logout token must not carry one
    {"sid": None, "sub": None},
])
def test_oidcc_backchannel_logout_token_refused_by_the_example(system, bad):
    assert post(system, logout_token(**bad)) == 400
    assert left(system) == ["s-1", "s-2", "s-3"]


def test_a_logout_token_with_sid_ends_that_session_only(system):
    assert post(system, logout_token()) == 200
    assert left(system) == ["s-2", "s-3"]


def test_a_logout_token_without_sid_ends_every_session_of_its_sub(system):
    assert post(system, logout_token(sid=None)) == 200
    assert left(system) == ["s-3"]

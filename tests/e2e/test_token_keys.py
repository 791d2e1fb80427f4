"""Only identity can mint a token: access tokens are ES256 with a kid, the gateway verifies them
with identity's public keys (served at /.well-known/jwks.json, as business systems read them), and
whatever else claims to be a token is a 401: the old shared HMAC scheme, `alg: none`, HS256 with
the public key as its secret, an unknown kid, or a foreign key under the real kid."""
import base64
import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt.algorithms import ECAlgorithm

from contracts.tokens import API_AUDIENCE, ISSUER, load_private_keys, new_private_pem, public_jwk
from tests.e2e.enterprise_people import register
from tests.support import http_error

pytestmark = pytest.mark.e2e


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header, claims, sign):
    """A JWS built by hand: PyJWT itself refuses to make some of these."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(sign(signing_input.encode()))}"


@pytest.fixture(scope="module")
def person(api):
    return register(api)


@pytest.fixture(scope="module")
def jwks(api):
    r = api.get("/.well-known/jwks.json")
    assert r.status_code == 200, r.text
    return r.json()


def test_the_keys_are_published_and_verify_the_platforms_tokens_as_a_business_system_would(api, person, jwks):
    assert jwks["keys"] and all(k["alg"] == "ES256" and k["kty"] == "EC" and k["kid"] for k in jwks["keys"])
    assert all("d" not in k for k in jwks["keys"])  # public halves only
    header = jwt.get_unverified_header(person.token)
    assert header["alg"] == "ES256"
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(person.token, ECAlgorithm.from_jwk(json.dumps(key)), algorithms=["ES256"], issuer=ISSUER,
                        audience=API_AUDIENCE)
    assert claims["sub"] == person.user_id
    assert "/.well-known/jwks.json" in api.get("/openapi.json").json()["paths"]


def test_tokens_identity_did_not_sign_are_refused(api, platform, person, jwks):
    assert api.get("/api/v1/me", token=person.token).status_code == 200
    real_kid = jwt.get_unverified_header(person.token)["kid"]
    now = int(time.time())
    claims = {"sub": person.user_id, "jti": secrets.token_urlsafe(18), "iat": now, "exp": now + 600, "iss": ISSUER,
              "aud": API_AUDIENCE}
    public = ECAlgorithm.from_jwk(json.dumps(next(k for k in jwks["keys"] if k["kid"] == real_kid)))
    public_pem = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    stranger, = load_private_keys(new_private_pem())
    # every secret a gateway holds (it used to hold the HMAC key that signed tokens, EPORT_TOKEN_SECRET)
    held = json.loads((Path(platform.env["EPORT_VAR"]) / "dev-secrets.json").read_text())
    forged = {f"HS256 with the gateway's {name}": jwt.encode(claims, value, algorithm="HS256")
              for name, value in held.items()}
    forged |= {
        "HS256 with some other secret, real kid": jwt.encode(claims, secrets.token_hex(32), algorithm="HS256",
                                                             headers={"kid": real_kid}),
        "alg none": hand_made({"alg": "none", "typ": "JWT", "kid": real_kid}, claims, lambda _: b""),
        "HS256 over the public key": hand_made(
            {"alg": "HS256", "typ": "JWT", "kid": real_kid}, claims,
            lambda data: hmac.new(public_pem, data, hashlib.sha256).digest()),
        "unknown kid": jwt.encode(claims, stranger, algorithm="ES256",
                                  headers={"kid": public_jwk(stranger.public_key())["kid"]}),
        "another key under the real kid": jwt.encode(claims, stranger, algorithm="ES256", headers={"kid": real_kid}),
        "no kid": jwt.encode(claims, stranger, algorithm="ES256"),
    }
    for what, token in forged.items():
        r = api.get("/api/v1/me", token=token)
        assert r.status_code == 401, (what, r.status_code, r.text)
        assert http_error(r)["code"] == "UNAUTHENTICATED", what
    assert api.get("/api/v1/me", token=person.token).status_code == 200

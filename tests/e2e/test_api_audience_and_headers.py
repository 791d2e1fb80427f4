"""API tokens have one audience (`aud: "eport-api"`): a token identity's own key signed for another
audience (as single sign-on will for a business system) or for none is refused by the running
gateway; and every answer of the API, errors included, says it must not be cached or sniffed."""
import secrets
import time
from pathlib import Path

import jwt
import pytest

from contracts.tokens import API_AUDIENCE, ISSUER, Tokens, load_private_keys
from tests.e2e.enterprise_people import register
from tests.factories import new_mobile
from tests.support import http_error

pytestmark = pytest.mark.e2e

NO_STORE = {"cache-control": "no-store", "x-content-type-options": "nosniff"}


@pytest.fixture(scope="module")
def person(api):
    return register(api)


@pytest.fixture(scope="module")
def identity_keys(platform):
    """The private keys the running identity signs with (the development key file of its var)."""
    path = platform.env.get("EPORT_TOKEN_KEYS") or Path(platform.env["EPORT_VAR"]) / "token-keys.pem"
    return load_private_keys(Path(path).read_text())


def signed(keys, person, **changes):
    """A token like identity's, signed with its real key, with claims changed (None: left out)."""
    now = int(time.time())
    claims = {"sub": person.user_id, "jti": secrets.token_urlsafe(18), "iat": now, "exp": now + 600,
              "iss": ISSUER, "aud": API_AUDIENCE, **changes}
    claims = {k: v for k, v in claims.items() if v is not None}
    kid = Tokens(keys, 600).kid
    return jwt.encode(claims, keys[0], algorithm="ES256", headers={"kid": kid})


def test_a_token_of_another_audience_or_none_is_refused(api, person, identity_keys):
    assert jwt.decode(person.token, options={"verify_signature": False})["aud"] == API_AUDIENCE
    assert api.get("/api/v1/me", token=signed(identity_keys, person)).status_code == 200  # the control
    for what, aud in {"a business system's": "some-client", "none": None, "a list naming the API too":
                      [API_AUDIENCE, "some-client"], "empty": ""}.items():
        r = api.get("/api/v1/me", token=signed(identity_keys, person, aud=aud))
        assert r.status_code == 401, (what, r.text)
        assert http_error(r)["code"] == "UNAUTHENTICATED", what
        assert api.get("/api/v1/messages", token=signed(identity_keys, person, aud=aud)).status_code == 401, what


def _assert_no_store(r, what):
    headers = {k.lower(): v for k, v in r.headers.items()}
    assert {k: headers.get(k) for k in NO_STORE} == NO_STORE, (what, r.status_code, dict(r.headers))


def test_every_api_answer_says_no_store_and_nosniff_errors_included(api, person):
    mobile = new_mobile()
    answers = {
        "200 /me": (api.get("/api/v1/me", token=person.token), 200),
        "200 a list": (api.get("/api/v1/messages", token=person.token), 200),
        "200 public": (api.get("/api/v1/systems"), 200),
        "202 sms": (api.post("/api/v1/sms-codes", json={"mobile": mobile, "purpose": "register"}), 202),
        "429 sms again": (api.post("/api/v1/sms-codes", json={"mobile": mobile, "purpose": "register"}), 429),
        "400": (api.post("/api/v1/sms-codes", json={"mobile": "x", "purpose": "register"}), 400),
        "401": (api.get("/api/v1/me"), 401),
        "404 no route": (api.get("/api/v1/no-such-thing"), 404),
        "under /oauth2/": (api.get("/oauth2/no-such-thing"), None),  # whoever answers it
        "405": (api.call("DELETE", "/api/v1/systems"), 405),
        "413": (api.post("/api/v1/sms-codes", data=b"{" + b" " * (65 * 1024) + b"}",
                         headers={"Content-Type": "application/json"}), 413),
    }
    for what, (r, status) in answers.items():
        assert status is None or r.status_code == status, (what, r.status_code, r.text)
        _assert_no_store(r, what)
    # the console and the public keys are not API answers: they may be cached
    assert api.get("/").headers.get("Cache-Control") != "no-store"


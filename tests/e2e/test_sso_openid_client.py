"""Single sign-on with a relying party nobody here wrote: openid-client 6 (Node; tests/oidc_node, installed by
`make install` with npm ci) against the launched platform, on loopback. tests/oidc_node/rp.mjs does discovery
and builds the authorization URL (PKCE S256, state, nonce); this test does the person's part with plain HTTP
(the API the console's login page drives: POST /oauth2/session from an identity session, then
/oauth2/authorize) and hands the callback URL back; openid-client then checks `iss` (RFC 9207), state, PKCE,
nonce and the ID token (its ES256 signature by the JWK set included), calls userinfo and refreshes."""
import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests

from tests.e2e.sso_people import COOKIE, SYSTEM, add_client, enterprise_with_grant, session_cookie

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RP = Path(__file__).resolve().parents[1] / "oidc_node"
REDIRECT = "https://node-rp.example/callback"


@pytest.fixture(scope="module")
def people(api, platform):
    """enterprise_with_grant's people and, under "client", the relying party registered with `eport clients add`."""
    return {**enterprise_with_grant(api), "client": add_client(platform, REDIRECT)}


class NodeRp:
    """rp.mjs as a child process: one JSON line out per line in."""

    def __init__(self, issuer, client):
        if not (RP / "node_modules" / "openid-client").is_dir():
            pytest.fail("openid-client is not installed: `make install` (npm ci in tests/oidc_node)")
        self.proc = subprocess.Popen([shutil.which("node"), str(RP / "rp.mjs"), issuer, client["client_id"],
                                      client["client_secret"], REDIRECT], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=RP)
        self.started = self.read()

    def read(self):
        line = self.proc.stdout.readline()
        assert line, f"rp.mjs ended: {self.proc.stderr.read()}"
        return json.loads(line)

    def callback(self, url):
        self.proc.stdin.write(url + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self):
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def rp(platform, people):
    started = NodeRp(platform.base_url.rstrip("/"), people["client"])
    yield started
    started.close()


def callback_url(api, authorization_url, person):
    """What the browser would be sent to after the console's login: /oauth2/authorize with the session."""
    r = requests.get(authorization_url, headers={"Cookie": f"{COOKIE}={session_cookie(api, person)}"},
                     allow_redirects=False, timeout=30)
    assert r.status_code == 302, r.text
    return r.headers["Location"]


def with_query(url, **changes):
    parts = urlsplit(url)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    params.update(changes)
    return urlunsplit(parts._replace(query=urlencode({k: v for k, v in params.items() if v is not None})))


def test_oidcc_server_openid_client_logs_in_a_granted_member(api, platform, rp, people):
    assert rp.started["metadata"]["issuer"] == platform.base_url.rstrip("/")
    assert urlsplit(rp.started["authorization_url"]).hostname == "127.0.0.1"  # loopback only
    got = rp.callback(callback_url(api, rp.started["authorization_url"], people["granted"]))
    assert "error" not in got, got
    claims, person = got["claims"], people["granted"]
    assert claims["sub"] == person.user_id and claims["name"] == person.name
    assert claims["eport_enterprise"]["enterprise_id"] == people["eid"]
    assert claims["eport_enterprise"]["uscc"] == people["uscc"]
    assert claims["eport_role"] == "user" and SYSTEM in claims["eport_systems"]
    assert got["userinfo"]["sub"] == person.user_id and got["userinfo"]["eport_systems"] == claims["eport_systems"]
    assert got["userinfo"]["eport_enterprise"] == claims["eport_enterprise"]
    assert got["expires_in"] <= 600
    assert got["refreshed"]["refresh_token"] != got["refresh_token"] and got["refreshed"]["access_token_differs"]


def test_oidcc_ensure_iss_parameter_is_checked_rfc9207(api, platform, rp, people):
    """openid-client refuses a callback whose `iss` is another's or missing (discovery says the provider sends
    it); the provider's own `iss` passes, and the code was not spent by the refusals."""
    real = callback_url(api, rp.started["authorization_url"], people["granted"])
    assert parse_qs(urlsplit(real).query)["iss"] == [platform.base_url.rstrip("/")]
    for forged in (with_query(real, iss="https://evil.example"), with_query(real, iss=None),
                   with_query(real, state="another-state")):
        refused = rp.callback(forged)
        assert "error" in refused, (forged, refused)
    assert "error" not in rp.callback(real)


def test_oidcc_ensure_request_without_grant_is_access_denied_openid_client(api, rp, people):
    got = rp.callback(callback_url(api, rp.started["authorization_url"], people["ungranted"]))
    assert got["oauth_error"] == "access_denied", got

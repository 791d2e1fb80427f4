"""examples/sso_business_system (Authlib's client over werkzeug) run as its own process against the launched
platform, end to end with plain HTTP as a browser would: registered with `eport clients add`, a granted
member logs in and the page shows their enterprise, role and systems; a member without the grant is refused
in words; the grant revoked, the platform's logout token reaches the example, which ends the session; a
logout token signed by anyone else is refused and ends nothing."""
import os
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from tests.e2e.sso_people import COOKIE, SYSTEM, add_client, enterprise_with_grant, session_cookie
from tests.support import free_port, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

APP = Path(__file__).resolve().parents[2] / "examples" / "sso_business_system" / "app.py"
EVENT = "http://schemas.openid.net/event/backchannel-logout"


@pytest.fixture(scope="module")
def example(platform):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    client = add_client(platform, f"{base}/callback", "--backchannel-logout-uri", f"{base}/backchannel-logout")
    env = {**os.environ, "SSO_CLIENT_ID": client["client_id"], "SSO_CLIENT_SECRET": client["client_secret"],
           "EXAMPLE_BASE_URL": base}
    proc = subprocess.Popen([sys.executable, str(APP), "--port", str(port), "--issuer", platform.base_url],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def up():
        try:
            return requests.get(base + "/", timeout=2).status_code == 200
        except requests.ConnectionError:
            assert proc.poll() is None, proc.stderr.read()
            return False
    wait_for(up, timeout=30, what="the example business system")
    yield type("Example", (), {"base": base, "client": client})
    proc.terminate()
    proc.wait(timeout=10)


def log_in(api, example, person):
    """A browser of its own: the example's /login, the platform's /oauth2/authorize with the person's provider
    session (the console's login done), back to the example's /callback. The callback's answer."""
    browser = requests.Session()
    r = browser.get(example.base + "/login", allow_redirects=False, timeout=30)
    assert r.status_code == 302, r.text
    r = requests.get(r.headers["Location"], headers={"Cookie": f"{COOKIE}={session_cookie(api, person)}"},
                     allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"].startswith(example.base + "/callback?"), r.text
    return browser, browser.get(r.headers["Location"], timeout=30)


def test_oidcc_server_example_business_system_shows_the_enterprise_and_honours_backchannel_logout(api, example):
    people = enterprise_with_grant(api)
    person = people["granted"]
    browser, home = log_in(api, example, person)
    assert home.status_code == 200, home.text
    for shown in (person.name, people["uscc"], '<dd id="role">user</dd>', SYSTEM):
        assert shown in home.text, (shown, home.text)
    # a logout token signed by another key ends nothing
    forged = jwt.encode({"iss": api.base, "aud": example.client["client_id"], "iat": int(time.time()),
                         "exp": int(time.time()) + 60, "jti": "j", "sub": person.user_id, "events": {EVENT: {}}},
                        ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"typ": "logout+jwt"})
    r = requests.post(example.base + "/backchannel-logout", data={"logout_token": forged}, timeout=30)
    assert r.status_code == 400
    assert "Logged in as" in browser.get(example.base + "/", timeout=30).text
    # the administrator revokes the grant: the platform's logout token ends the example's session
    r = api.put(f"/api/v1/enterprises/{people['eid']}/members/{person.user_id}/permissions",
                token=people["admin"].token, json={"systems": []})
    assert r.status_code == 200, r.text
    wait_for(lambda: "not logged in" in browser.get(example.base + "/", timeout=30).text, timeout=20,
             what="the example's session ended by the logout token")


def test_oidcc_ensure_request_without_grant_is_access_denied_in_the_example(api, example):
    people = enterprise_with_grant(api)
    _, refused = log_in(api, example, people["ungranted"])
    assert refused.status_code == 403
    assert "has not granted you this system" in refused.text and "Logged in as" not in refused.text

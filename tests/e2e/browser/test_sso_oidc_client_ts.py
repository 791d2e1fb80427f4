"""Single sign-on with a relying party nobody here wrote: oidc-client-ts 3 (tests/oidc_rp, installed by
`make install` with npm ci) on a small page served on loopback, in Chromium. Its UserManager sends the
browser to /oauth2/authorize; the console's login (/sso/login) and chooser (/sso/choose) answer; the
callback exchanges the code (PKCE S256; a public client, `eport clients add --public`: no secret in the page,
token_endpoint_auth_method none; across origins: the token endpoint's CORS);
silent renew is what oidc-client-ts does by default with a refresh token; then RP-initiated logout.

The page is served from http://localhost:<port>, another site than the platform's 127.0.0.1: the
provider's SameSite=Lax cookie rides only the top-level navigations. Every wait is bounded, and by the
browser's driver: Playwright's Python-side waits (wait_for_url, a promise's evaluate) run on asyncio
timers, which never fire under the eventlet monkey patching of tests/conftest.py, so URLs are awaited
with expect(...).to_have_url and every promise evaluated races a timeout of its own (`settled`); the
module's pytest-timeout is the last resort. Tests are named after the OpenID Foundation's
certification modules they mirror."""
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from playwright.sync_api import expect

from services.common.settings import setting
from tests.e2e.enterprise_people import MANUAL, PASSWORD, apply, approve, register, register_enterprise
from tests.e2e.sso_people import SYSTEM, add_client, enterprise_with_grant
from tests.support import free_port

from .conftest import DESKTOP, Screens
from .helpers import bind_card, enter_pin, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

RP = Path(__file__).resolve().parents[2] / "oidc_rp"
LIBRARY = RP / "node_modules" / "oidc-client-ts" / "dist" / "browser" / "oidc-client-ts.min.js"
WAIT = 15000  # ms: any one step of the browser's


@pytest.fixture(scope="module")
def people(api):
    """A member granted the system in one enterprise and a member, not granted, of a second one: a chooser."""
    first, second = enterprise_with_grant(api), enterprise_with_grant(api)
    person = first["granted"]
    approve(api, second["admin"], apply(api, person, second["uscc"]))
    return {"person": person, "granted": first, "not_granted": second}


@pytest.fixture(scope="module")
def site(platform, tmp_path_factory):
    """The business system's page at http://localhost:<port>, its client registered with `eport clients add`."""
    if not LIBRARY.is_file():
        pytest.fail("oidc-client-ts is not installed: `make install` (npm ci in tests/oidc_rp)")
    port = free_port()
    origin = f"http://localhost:{port}"
    client = add_client(platform, f"{origin}/callback.html", "--post-logout-redirect-uri", f"{origin}/logged-out.html",
                        "--public")
    assert "client_secret" not in client and client["token_endpoint_auth_method"] == "none"
    folder = tmp_path_factory.mktemp("oidc-rp")
    for name in ("index.html", "callback.html", "logged-out.html"):
        shutil.copy(RP / "page" / "index.html", folder / name)
    shutil.copy(RP / "page" / "rp.js", folder / "rp.js")
    shutil.copy(LIBRARY, folder / LIBRARY.name)
    ttl = int(platform.env.get("SSO_ACCESS_TOKEN_TTL") or setting("SSO_ACCESS_TOKEN_TTL"))
    config = {"issuer": platform.base_url.rstrip("/"), "client_id": client["client_id"],
              "renew_notice": max(ttl - 3, 1)}  # renewed 3 s in
    (folder / "config.js").write_text(f"window.RP_CONFIG = {json.dumps(config)}\n", encoding="utf-8")
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/index.html", timeout=1)
                break
            except requests.ConnectionError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the relying party's page server did not start") from None
                time.sleep(0.1)
        yield {"origin": origin, "client": client}
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture(scope="module")
def browser(chromium, console, site):
    """One browser for the module's steps, in order; what it asked of the platform, recorded."""
    context = chromium.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(WAIT)
    page.set_default_navigation_timeout(WAIT)
    asked, authorized = [], []
    page.on("request", lambda r: asked.append((r.method, r.url, r.post_data or "")))
    page.on("request", lambda r: authorized.append(r.url) if "authorization" in r.headers else None)
    yield {"screens": Screens(page, console), "page": page, "asked": asked, "console": console,
           "authorized": authorized}
    context.close()


def at(page, url_pattern):
    """Wait, in the driver, until the page's URL matches (a regular expression)."""
    expect(page).to_have_url(re.compile(url_pattern), timeout=WAIT)


def settled(page, promise):
    """A promise's value, or a JavaScript error once WAIT has passed (never a hang)."""
    return page.evaluate(f"""Promise.race([({promise}),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), {WAIT}))])""")


def profile(page):
    expect(page.locator("#profile")).not_to_be_empty(timeout=WAIT)
    return json.loads(page.locator("#profile").text_content())


def log_in_at_the_console(page, person):
    at(page, r"/sso/login\?return_to=")
    expect(page.get_by_role("heading", name="杭州Eport 用户登录")).to_be_visible()
    page.get_by_label("账号", exact=True).fill(person.mobile)
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()


def choose(page, enterprise_name, shoot=None):
    at(page, r"/sso/choose\?return_to=")
    expect(page.get_by_role("heading", name="选择登录企业")).to_be_visible()
    expect(page.get_by_text("“报关系统”")).to_be_visible()
    if shoot:
        shoot()
    page.get_by_role("link", name=f"以该企业身份登录：{enterprise_name}").click()


def enterprise_name(api, people, which):
    eid = people[which]["eid"]
    return next(a["enterprise_name"] for a in api.get("/api/v1/me", token=people["person"].token).json()["associations"]
                if a["enterprise_id"] == eid)


def asked_since(browser, since, path):
    return [(m, u, d) for m, u, d in browser["asked"][since:] if urlsplit(u).path == path]


def test_the_console_login_page_is_screened(browser, site):
    """/sso/login, as a business system's person first sees it (one screen: the console's login)."""
    page, screens = browser["page"], browser["screens"]
    screens.open("/sso/login?return_to=" + requests.utils.quote("/oauth2/authorize?client_id=x", safe=""))
    expect(page.get_by_role("heading", name="杭州Eport 用户登录")).to_be_visible()
    screens.shot("59-sso-login")
    screens.open("/sso/login?return_to=https%3A%2F%2Fevil.example%2F")
    expect(page.get_by_role("heading", name="登录请求无效")).to_be_visible()


def test_oidcc_server_console_login_chooser_and_callback(api, browser, site, people):
    page, screens, person = browser["page"], browser["screens"], people["person"]
    page.goto(site["origin"] + "/index.html")
    page.get_by_role("button", name="通过平台登录").click()
    log_in_at_the_console(page, person)
    granted_name = enterprise_name(api, people, "granted")
    not_granted = people["not_granted"]
    choose(page, granted_name, shoot=lambda: (
        expect(page.get_by_role("listitem").filter(has_text="未获得该业务系统的操作权限")).to_have_count(1),
        screens.shot("60-sso-choose")))
    at(page, re.escape(site["origin"] + "/callback.html?"))
    got = profile(page)
    assert got["sub"] == person.user_id and got["name"] == person.name
    assert got["eport_enterprise"]["enterprise_id"] == people["granted"]["eid"]
    assert got["eport_enterprise"]["enterprise_id"] != not_granted["eid"]
    assert SYSTEM in got["eport_systems"] and got["eport_role"] == "user"
    assert page.locator("#error").text_content() == ""
    # the callback carried iss (RFC 9207); the page sent the code and its verifier to the token endpoint
    callback = parse_qs(urlsplit(asked_since(browser, 0, "/callback.html")[-1][1]).query)
    assert callback["iss"] == [browser["console"].rstrip("/")] and callback["code"] and callback["state"]
    tokens = [d for m, u, d in asked_since(browser, 0, "/oauth2/token") if m == "POST"]
    assert any("grant_type=authorization_code" in d and "code_verifier=" in d for d in tokens), tokens
    # a public client: its client_id in the form, no credentials at all
    assert all("client_id=" in d for d in tokens) and not [u for u in browser["authorized"] if "/oauth2/token" in u]


def test_oidcc_refresh_token_silent_renew(browser, site):
    """oidc-client-ts renews before expiry on its own (automaticSilentRenew); with a refresh token it
    uses the token endpoint, not an iframe with prompt=none (which frame-ancestors 'none' forbids)."""
    page, since = browser["page"], len(browser["asked"])
    page.goto(site["origin"] + "/index.html?renew=soon")
    page.wait_for_function("window.rp.loaded.length >= 2 || window.rp.errors.length > 0", timeout=WAIT)
    page.evaluate("window.rp.mgr.stopSilentRenew()")  # the next one is 3 s away: none is under way
    assert page.evaluate("window.rp.errors") == []
    tokens = page.evaluate("window.rp.loaded")
    assert len(set(tokens)) == len(tokens)
    user = settled(page, "window.rp.mgr.signinSilent().then((u) => ({token: u.access_token, sub: u.profile.sub}))")
    assert user["token"] not in tokens and user["sub"]
    renewals = [d for m, u, d in asked_since(browser, since, "/oauth2/token") if m == "POST"]
    assert len(renewals) >= 3 and all("grant_type=refresh_token" in d for d in renewals), renewals
    assert not asked_since(browser, since, "/oauth2/authorize")  # no iframe with prompt=none


def test_oidcc_prompt_login(browser, site, people, api):
    """prompt=login asks for the login again though the provider session lives, once: then the flow goes on."""
    page, since = browser["page"], len(browser["asked"])
    page.goto(site["origin"] + "/index.html")
    page.get_by_role("button", name="重新登录（prompt=login）").click()
    log_in_at_the_console(page, people["person"])
    choose(page, enterprise_name(api, people, "granted"))
    at(page, re.escape(site["origin"] + "/callback.html?"))
    assert profile(page)["eport_enterprise"]["enterprise_id"] == people["granted"]["eid"]
    assert len(asked_since(browser, since, "/sso/login")) == 1  # asked once, then on: no loop
    assert len(asked_since(browser, since, "/oauth2/authorize")) == 3  # asked, after the login, chosen


def test_the_enterprise_named_in_the_scope_needs_no_chooser(browser, site, people):
    """scope eport:enterprise:{id}: that enterprise, straight back; one without the grant is access_denied."""
    page, since = browser["page"], len(browser["asked"])
    page.goto(site["origin"] + f"/index.html?enterprise={people['granted']['eid']}")
    page.get_by_role("button", name="以指定企业登录").click()
    at(page, re.escape(site["origin"] + "/callback.html?"))
    assert profile(page)["eport_enterprise"]["enterprise_id"] == people["granted"]["eid"]
    assert not asked_since(browser, since, "/sso/choose") and not asked_since(browser, since, "/sso/login")
    page.goto(site["origin"] + f"/index.html?enterprise={people['not_granted']['eid']}")
    page.get_by_role("button", name="以指定企业登录").click()
    at(page, re.escape(site["origin"] + "/callback.html?"))
    expect(page.locator("#error")).to_contain_text("ErrorResponse", timeout=WAIT)  # oidc-client-ts refuses it
    assert "error=access_denied" in page.url and "iss=" in page.url


@pytest.mark.card
def test_the_console_login_by_ic_card_through_the_agent(api, browser_of, site, insert, issue_card_of):
    """/sso/login's ICKey 设备登录: the agent signs with the card (PIN), and the flow goes on to the system."""
    admin = register(api)
    eid, uscc = register_enterprise(api, admin, certify_role=False)
    card_no, image = issue_card_of(admin.name, admin.id_number, uscc)
    insert(image)
    screens = browser_of()
    page = log_in(screens, admin)
    bind_card(screens, MANUAL["name"], card_no)  # the legal-person card: the administrator's role is certified
    expect(page.get_by_text("绑定成功，企业管理员角色认证已完成")).to_be_visible()
    page.goto(site["origin"] + "/index.html")
    page.get_by_role("button", name="通过平台登录").click()
    at(page, r"/sso/login\?return_to=")
    page.get_by_role("button", name="ICKey 设备登录").click()
    enter_pin(page, asks=("登录", card_no))
    at(page, re.escape(site["origin"] + "/callback.html?"))
    got = profile(page)
    assert got["sub"] == admin.user_id and got["eport_role"] == "admin"
    assert got["eport_enterprise"]["enterprise_id"] == eid and SYSTEM in got["eport_systems"]


def test_oidcc_rp_initiated_logout(browser, site):
    page, since = browser["page"], len(browser["asked"])
    page.goto(site["origin"] + "/callback.html")
    page.get_by_role("button", name="退出").click()
    at(page, re.escape(site["origin"] + "/logged-out.html?"))
    assert profile(page) == {"state": "bye", "user": None}  # the state came back; the page forgot its user
    (_, logout, _), = asked_since(browser, since, "/oauth2/logout")
    sent = parse_qs(urlsplit(logout).query)
    assert sent["id_token_hint"] and sent["post_logout_redirect_uri"] == [site["origin"] + "/logged-out.html"]
    page.get_by_role("button", name="通过平台登录").click()
    at(page, r"/sso/login\?return_to=")  # the provider session ended: a login again

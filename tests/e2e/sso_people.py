"""A business system registered with `eport clients add`, an enterprise whose administrator grants
it to one member and not to another, and each person's provider session (for the e2e tests of
single sign-on)."""
import uuid

from tests.backchannel_endpoint import Endpoint
from tests.e2e.certification import certify
from tests.e2e.enterprise_people import apply, approve, register, wait_for
from tests.eport_cli import eport, json_lines
from tests.factories import new_uscc

SYSTEM = "cargo_declaration"
COOKIE = "__Host-eport_sso"


def operator_uri(platform):
    return (platform.broker_uris or {}).get("operator", platform.env["AMQP_URI"])


def add_client(platform, redirect_uri, *extra):
    done = eport("clients", "add", "--name", "报关系统", "--system", SYSTEM, "--redirect-uri", redirect_uri,
                 *extra, "--json", amqp_uri=operator_uri(platform))
    return json_lines(done)[0]


def session_cookie(api, person):
    """The provider session of someone logged in to the console (POST /oauth2/session)."""
    r = api.post("/oauth2/session", token=person.token)
    assert r.status_code == 204, r.text
    header = r.headers["Set-Cookie"]
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in header, header
    return r.cookies.get(COOKIE) or header.split(";")[0].split("=", 1)[1]


def enterprise_with_grant(api):
    """admin (certified), granted (a member granted SYSTEM), ungranted (a member without it)."""
    admin, granted, ungranted = register(api), register(api), register(api)
    uscc = new_uscc()
    r = api.post("/api/v1/associations", token=admin.token, json={
        "uscc": uscc, "role": "admin", "name": f"厦门单点登录{uuid.uuid4().hex[:4]}有限公司",
        "address": "福建省厦门市湖里区", "business_scope": "进出口贸易"})
    assert r.status_code == 201, r.text
    eid = r.json()["enterprise_id"]
    certify(api, admin.token, admin.user_id, eid, uscc, admin.name, admin.id_number)
    for member in (granted, ungranted):
        approve(api, admin, apply(api, member, uscc))
    path = f"/api/v1/enterprises/{eid}/members/{granted.user_id}/permissions"
    wait_for(lambda: api.put(path, token=admin.token, json={"systems": [SYSTEM]}).status_code == 200)
    return {"eid": eid, "uscc": uscc, "admin": admin, "granted": granted, "ungranted": ungranted}


def code_flow(api, platform, client, person, redirect_uri):
    """An authorization code and its verifier, as a relying party gets them (PKCE S256)."""
    import base64
    import hashlib
    import secrets
    from urllib.parse import parse_qs, urlsplit
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    r = api.get("/oauth2/authorize", params={
        "response_type": "code", "client_id": client["client_id"], "redirect_uri": redirect_uri,
        "scope": "openid profile", "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"},
        headers={"Cookie": f"{COOKIE}={session_cookie(api, person)}"}, allow_redirects=False)
    assert r.status_code == 302, r.text
    return parse_qs(urlsplit(r.headers["Location"]).query)["code"][0], verifier


def exchange(api, client, code, verifier, redirect_uri):
    return api.post("/oauth2/token", data={"grant_type": "authorization_code", "code": code,
                                           "redirect_uri": redirect_uri, "code_verifier": verifier},
                    auth=(client["client_id"], client["client_secret"]))


def drive_sso_events(api, platform):
    """ClientRegistered, TokensIssued, TokenFamilyEnded (a code used twice), ProviderSessionEnded and
    BackchannelLogoutDue (a logout), ClientRemoved."""
    redirect = "https://events.example/callback"
    people = enterprise_with_grant(api)
    endpoint = Endpoint()
    try:
        client = add_client(platform, redirect, "--backchannel-logout-uri", endpoint.uri)
        code, verifier = code_flow(api, platform, client, people["granted"], redirect)
        assert exchange(api, client, code, verifier, redirect).status_code == 200
        assert exchange(api, client, code, verifier, redirect).status_code == 400
        code, verifier = code_flow(api, platform, client, people["granted"], redirect)
        tokens = exchange(api, client, code, verifier, redirect).json()
        r = api.get("/oauth2/logout", params={"id_token_hint": tokens["id_token"]}, allow_redirects=False)
        assert r.status_code == 200, r.text
        wait_for(lambda: endpoint.tokens())
    finally:
        endpoint.close()
    eport("clients", "remove", client["client_id"], amqp_uri=operator_uri(platform))

"""The provider's rules on the in-memory store, with stand-ins for identity, enterprise and authz: what
tests/unit/test_sso_provider.py and test_sso_logout.py share."""
import base64
import hashlib
import json
import secrets
from urllib.parse import parse_qs, urlsplit

from contracts.tokens import Tokens, load_private_keys, new_private_pem
from services.sso.application import SsoApplication
from services.sso.provider import Provider
from tests.support import Clock

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

    def token_keys(self):
        return self.tokens


def sso_env(monkeypatch, **client_options):
    """The application on the in-memory store, a client `CRM` and the session `cookie` of USER."""
    monkeypatch.setenv("EVENT_STORE", "memory")
    monkeypatch.setenv("EPORT_ENV", "development")
    monkeypatch.setenv("EPORT_ISSUER", ISS)
    clock = Clock(1_800_000_000.0)
    app = SsoApplication(clock=clock)
    peers = FakePeers()
    client = app.add_client("CRM", "crm", [REDIRECT], **client_options)
    cookie = begin(app, "s-1", clock())
    return type("Env", (), {"app": app, "peers": peers, "client": client, "cookie": cookie, "clock": clock})


def begin(app, identity_session_id, logged_in_at):
    """A provider session begun from an identity session of USER whose login was made at `logged_in_at`
    (what identity.authenticate answers for its token)."""
    return app.begin_session({"user_id": USER, "session_id": identity_session_id, "auth_time": logged_in_at,
                              "expires_at": logged_in_at + 1800})


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
    return json.loads(answer["body"])

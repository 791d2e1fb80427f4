"""RP-initiated logout and what ends sign-ons (logout, reset, supersession, a removed membership, a revoked
grant), on the in-memory store with stand-ins for identity, enterprise and authz; the logout token's
delivery to a real loopback HTTP server. Named after the OpenID Foundation's plan modules where one fits."""
import json
import uuid
from datetime import UTC, datetime

import jwt
import pytest

from contracts import authz as az
from contracts import errors as e
from contracts import enterprise as ent
from contracts import identity as idn
from contracts import sso as c
from contracts.envelope import make_envelope
from contracts.errors import ServiceError
from services.sso.backchannel import EVENT, EndpointFailed, deliver
from services.sso.domain import ProviderSession
from services.sso.integration import to_integration
from tests.sso_support import (ENTERPRISE, ISS, OTHER, REDIRECT, USER, FakePeers, authorize, body, code_flow,
                               location, pkce, provider, query, sso_env, token_request)
from tests.backchannel_endpoint import Endpoint
from tests.support import free_port, raises_code

pytestmark = pytest.mark.unit

AFTER = "https://crm.example/signed-out"
BACKCHANNEL = "https://crm.example/backchannel-logout"


@pytest.fixture
def env(monkeypatch):
    return sso_env(monkeypatch, post_logout_redirect_uris=[AFTER], backchannel_logout_uri=BACKCHANNEL)


def logged_in(env):
    """The tokens of one code flow, and the provider session of the env's cookie."""
    _, _, answer = code_flow(env)
    assert answer["status"] == 200, answer
    return body(answer), env.app.session_of(env.cookie)


def logout(env, method="GET", cookie="default", origin=None, **params):
    data = {k: [v] for k, v in params.items() if v is not None}
    http = {"method": method, "path": "/oauth2/logout", "args": data if method == "GET" else {},
            "form": data if method == "POST" else {}, "headers": {"Origin": origin} if origin else {},
            "cookie": env.cookie if cookie == "default" else cookie}
    return env.app.logout(provider(env), http)


def refresh(env, tokens):
    return body(token_request(env, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}))


def published(app, event_type=None):
    out = []
    for notification in app.recorder.select_notifications(start=1, limit=1000):
        out.extend(to_integration(app.mapper.to_domain_event(notification)))
    return [e for e in out if event_type is None or e["event_type"] == event_type.name]


def ended(env, session):
    return env.app.find(session.id, ProviderSession).ended


def test_oidcc_rp_initiated_logout(env):
    tokens, session = logged_in(env)
    answer = logout(env, id_token_hint=tokens["id_token"], post_logout_redirect_uri=AFTER, state="st-9")
    assert answer["status"] == 302 and location(answer) == AFTER + "?state=st-9"
    assert answer["cookie"] == {"clear": True}
    assert env.app.session_of(env.cookie) is None
    assert refresh(env, tokens)["error"] == "invalid_grant"
    [ended_event] = published(env.app, c.PROVIDER_SESSION_ENDED)
    assert ended_event["payload"] == {"session_id": str(session.id), "user_id": USER, "identity_session_id": "s-1",
                                      "reason": "logged_out", "ends_identity_session": True}
    [due] = published(env.app, c.BACKCHANNEL_LOGOUT_DUE)
    assert due["payload"]["client_id"] == env.client["client_id"] and due["payload"]["session_id"] == str(session.id)


def test_oidcc_rp_initiated_logout_without_redirect_uri_shows_a_page(env):
    tokens, session = logged_in(env)
    answer = logout(env, id_token_hint=tokens["id_token"], client_id=env.client["client_id"])
    assert answer["status"] == 200 and "Location" not in dict(answer["headers"]) and ended(env, session)


def test_oidcc_rp_initiated_logout_accepts_an_expired_hint_and_ends_its_sid_without_cookie(env):
    _, session = logged_in(env)
    past = int(env.clock()) - 7200
    hint = env.peers.sign({"iss": ISS, "aud": env.client["client_id"], "sub": USER, "sid": str(session.id),
                           "iat": past, "exp": past + 600})
    answer = logout(env, cookie=None, id_token_hint=hint, post_logout_redirect_uri=AFTER)
    assert answer["status"] == 302 and ended(env, session)


@pytest.mark.parametrize("variant", [AFTER + "/", AFTER.upper(), AFTER + "?x=1", "https://crm.example/x/../signed-out",
                                     "https://evil@crm.example/signed-out", "https://crm.example.evil/signed-out"])
def test_oidcc_rp_initiated_logout_bad_post_logout_redirect_uri(env, variant):
    tokens, session = logged_in(env)
    answer = logout(env, id_token_hint=tokens["id_token"], post_logout_redirect_uri=variant, state="s")
    assert answer["status"] == 400 and "Location" not in dict(answer["headers"])
    assert not ended(env, session) and answer["cookie"] is None


def test_oidcc_rp_initiated_logout_redirect_uri_needs_a_client_to_check_it(env):
    _, session = logged_in(env)
    answer = logout(env, post_logout_redirect_uri=AFTER)  # registered, but nobody says for which client
    assert answer["status"] == 400 and not ended(env, session)


def forged_hints(env, session):
    claims = {"iss": ISS, "aud": env.client["client_id"], "sub": USER, "sid": str(session.id), "iat": 1, "exp": 2}
    other = FakePeers()  # a key that is not the provider's
    return {"foreign key": other.sign(claims),
            "foreign issuer": env.peers.tokens.sign_for_client({**claims, "iss": "https://other.example"},
                                                               "https://other.example"),
            "unknown client": env.peers.sign({**claims, "aud": str(uuid.uuid4())}),
            "api token": env.peers.tokens.issue(USER, env.clock()),
            "logout token": env.peers.sign({**claims, "events": {EVENT: {}}}),
            "alg none": jwt.encode(claims, None, algorithm="none"),
            "not a jwt": "x" * 40}


def test_oidcc_rp_initiated_logout_refuses_a_forged_or_foreign_id_token_hint(env):
    _, session = logged_in(env)
    for name, hint in forged_hints(env, session).items():
        answer = logout(env, id_token_hint=hint, post_logout_redirect_uri=AFTER)
        assert answer["status"] == 400, name
        assert not ended(env, session), name


def test_client_id_other_than_the_hints_audience_is_refused(env):
    tokens, session = logged_in(env)
    other = env.app.add_client("ERP", "erp", ["https://erp.example/cb"])
    answer = logout(env, id_token_hint=tokens["id_token"], client_id=other["client_id"])
    assert answer["status"] == 400 and not ended(env, session)


def test_logout_without_a_hint_asks_first_and_only_a_post_confirms(env):
    _, session = logged_in(env)
    page = logout(env, client_id=env.client["client_id"], post_logout_redirect_uri=AFTER, state="s")
    assert page["status"] == 200 and 'method="post"' in page["body"] and not ended(env, session)
    assert logout(env, confirm="yes")["status"] == 200 and not ended(env, session)  # a GET never confirms
    done = logout(env, "POST", client_id=env.client["client_id"], post_logout_redirect_uri=AFTER, state="s",
                  confirm="yes")
    assert done["status"] == 302 and location(done) == AFTER + "?state=s" and ended(env, session)


def test_the_hint_of_another_person_does_not_end_this_browsers_session(env):
    _, session = logged_in(env)
    hint = env.peers.sign({"iss": ISS, "aud": env.client["client_id"], "sub": str(uuid.uuid4()), "iat": 1, "exp": 2})
    assert 'method="post"' in logout(env, id_token_hint=hint)["body"] and not ended(env, session)


# -- triggers learnt from the other services' events ---------------------------------------------------
def envelope(et, payload, env, seconds_ago=0):
    at = datetime.fromtimestamp(env.clock() - seconds_ago, UTC)
    return make_envelope(et, aggregate_id=uuid.uuid4(), aggregate_version=1, occurred_at=at, payload=payload)


def triggers(env):
    user = {"user_id": USER}
    membership = {"enterprise_id": ENTERPRISE, "user_id": USER, "association_id": str(uuid.uuid4()), "uscc":
                  "91350200MA2Y0001X1", "role": "user", "reason": "removed"}
    return {
        "session_ended": envelope(idn.SESSION_REVOKED, {**user, "session_id": "s-1"}, env),
        "password_reset": envelope(idn.PASSWORD_SET, {**user, "reason": "reset", "ends_sessions": True}, env),
        "superseded": envelope(idn.USER_SUPERSEDED, {**user, "by_user_id": str(uuid.uuid4())}, env),
        "erased": envelope(idn.USER_ERASED, {**user, "erasure_id": str(uuid.uuid4())}, env),
        "membership_ended": envelope(ent.MEMBER_REMOVED, membership, env),
        "grant_lost": envelope(az.PERMISSION_REVOKED, {**user, "enterprise_id": ENTERPRISE, "system": "crm",
                                                       "system_name": "客户管理", "reason": "revoked"}, env),
    }


@pytest.mark.parametrize("reason", ["session_ended", "password_reset", "superseded", "erased", "membership_ended",
                                    "grant_lost"])
def test_oidcc_backchannel_logout_each_trigger_ends_the_tokens_and_owes_a_logout_token(env, reason):
    tokens, session = logged_in(env)
    event = triggers(env)[reason]
    assert env.app.learn(event) is True
    assert refresh(env, tokens)["error"] == "invalid_grant"
    [due] = published(env.app, c.BACKCHANNEL_LOGOUT_DUE)
    assert due["payload"]["reason"] == reason and due["payload"]["session_id"] == str(session.id)
    session_level = reason in ("session_ended", "password_reset", "superseded", "erased")
    assert ended(env, session) is session_level  # membership and grant: the tokens of that enterprise or system
    assert env.app.learn(event) is False  # a redelivery ends nothing more, owes nothing more
    assert len(published(env.app, c.BACKCHANNEL_LOGOUT_DUE)) == 1


def test_events_that_end_nothing_here(env):
    tokens, session = logged_in(env)
    user = {"user_id": USER}
    for event in (envelope(idn.SESSION_REVOKED, {**user, "session_id": "another"}, env),
                  envelope(idn.PASSWORD_SET, {**user, "reason": "change", "ends_sessions": False}, env),
                  envelope(ent.MEMBER_REMOVED, {"enterprise_id": OTHER, "user_id": USER, "association_id":
                           str(uuid.uuid4()), "uscc": "91350200MA2Y0001X1", "role": "user"}, env),
                  envelope(az.PERMISSION_REVOKED, {**user, "enterprise_id": ENTERPRISE, "system": "erp",
                                                   "system_name": "企业资源", "reason": "revoked"}, env),
                  envelope(idn.PASSWORD_SET, {**user, "reason": "reset", "ends_sessions": True}, env, seconds_ago=60)):
        assert env.app.learn(event) is False, event["event_type"]
    assert "refresh_token" in refresh(env, tokens) and not ended(env, session)
    assert published(env.app, c.BACKCHANNEL_LOGOUT_DUE) == []


def test_a_client_without_backchannel_uri_is_owed_nothing(monkeypatch):
    env = sso_env(monkeypatch)
    tokens, session = logged_in(env)
    assert logout(env, id_token_hint=tokens["id_token"])["status"] == 200 and ended(env, session)
    assert published(env.app, c.BACKCHANNEL_LOGOUT_DUE) == []


# -- the logout token, delivered to a real loopback HTTP server ---------------------------------------
@pytest.fixture
def endpoint():
    served = Endpoint()
    yield served
    served.close()


def test_oidcc_backchannel_rp_initiated_logout_token_verifies_with_the_jwks(monkeypatch, endpoint):
    env = sso_env(monkeypatch, backchannel_logout_uri=endpoint.uri)
    tokens, session = logged_in(env)
    logout(env, id_token_hint=tokens["id_token"])
    [due] = published(env.app, c.BACKCHANNEL_LOGOUT_DUE)
    assert deliver(env.app, env.peers, due) is True
    [(content_type, _)] = endpoint.received
    assert content_type == "application/x-www-form-urlencoded"
    [token] = endpoint.tokens()
    keys = jwt.PyJWKSet.from_dict(json.loads(json.dumps(env.peers.tokens.jwks)))
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, keys[header["kid"]].key, algorithms=["ES256"], audience=env.client["client_id"],
                        issuer=ISS, options={"verify_iat": False})  # the test's clock is ahead of the wall clock
    assert claims["iat"] == int(env.clock()) and claims["exp"] == claims["iat"] + 120
    assert header["typ"] == "logout+jwt"
    assert claims["sub"] == USER and claims["sid"] == str(session.id) and claims["events"] == {EVENT: {}}
    assert claims["jti"] == due["payload"]["notice_id"] and "nonce" not in claims
    assert deliver(env.app, env.peers, due) is False and len(endpoint.received) == 1  # a repeat is not sent again


@pytest.mark.parametrize("status", [500, 400, None])
def test_an_endpoint_that_fails_raises_for_the_consumer_to_retry(monkeypatch, status):
    served = Endpoint(status or 200)
    uri = served.uri if status else f"http://127.0.0.1:{free_port()}/down"
    env = sso_env(monkeypatch, backchannel_logout_uri=uri)
    monkeypatch.setenv("SSO_BACKCHANNEL_TIMEOUT", "2")
    tokens, _ = logged_in(env)
    logout(env, id_token_hint=tokens["id_token"])
    [due] = published(env.app, c.BACKCHANNEL_LOGOUT_DUE)
    try:
        with pytest.raises(EndpointFailed):
            deliver(env.app, env.peers, due)
        with pytest.raises(EndpointFailed):  # not marked as done: the next try sends again
            deliver(env.app, env.peers, due)
    finally:
        served.close()
    assert len(served.received) == (2 if status else 0)


def test_a_client_names_a_system_of_the_catalogue(env):
    known = ["crm", "erp"]
    assert raises_code(env.app.add_client, "X", "nosuch", ["https://x.example/cb"], known_systems=known) == \
        "VALIDATION_ERROR"
    assert env.app.add_client("X", "erp", ["https://x.example/cb"], known_systems=known)["system"] == "erp"


@pytest.mark.parametrize("reason", ["session_ended", "password_reset", "superseded", "erased"])
def test_code_of_an_ended_session_rule_a_code_outlives_no_session_end(env, reason):
    """A code given just before its provider session ended (logout, reset, supersession, erasure) and
    redeemed after it: no tokens for a session that is over (the logout tokens were sent already)."""
    verifier, challenge = pkce()
    got = query(authorize(env, code_challenge=challenge, code_challenge_method="S256"))
    assert env.app.learn(triggers(env)[reason]) is True
    answer = token_request(env, {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": REDIRECT,
                                 "code_verifier": verifier})
    assert answer["status"] == 400 and body(answer)["error"] == "invalid_grant", answer


def test_erasure_rule_an_erased_person_refreshes_nothing_before_sso_hears_of_it(env):
    """Between the erasure's 202 and sso's UserErased, identity already answers USER_NOT_FOUND for the
    account: the refresh is the protocol's invalid_grant and userinfo's 401, never a token nor an error
    of the API's own shape."""
    tokens, _ = logged_in(env)

    def erased(user_id):
        raise ServiceError(e.USER_NOT_FOUND, "No such user.")
    env.peers.user = erased
    answer = token_request(env, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert answer["status"] == 400 and body(answer)["error"] == "invalid_grant", answer


@pytest.mark.parametrize("origin", ["https://crm.example", "http://localhost:8001", "null"])
def test_logout_csrf_rule_a_confirmation_posted_from_another_origin_ends_nothing(env, origin):
    """A page of another origin (a sibling of the same site, whose form POST carries the Lax cookie)
    posting confirm=yes gets the confirmation page, and the session lives; the provider's own page's
    POST (its Origin, or a browser sending none) confirms."""
    _, session = logged_in(env)
    page = logout(env, "POST", origin=origin, confirm="yes")
    assert page["status"] == 200 and 'method="post"' in page["body"] and not ended(env, session)
    assert logout(env, "POST", origin=ISS, confirm="yes")["status"] == 200 and ended(env, session)

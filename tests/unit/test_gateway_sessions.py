"""The gateway's own token check: revocations and resets are remembered only while they matter."""
import time
from datetime import datetime, UTC

import pytest

from contracts.errors import ServiceError
from contracts.tokens import ACCESS_TOKEN_TTL
from gateway.sessions import TOKEN_TTL, SessionCheck
from tests.tokens import signer

pytestmark = pytest.mark.unit


@pytest.fixture
def check(fresh_var):
    sessions = SessionCheck()
    sessions.setup()
    sessions.tokens = signer()
    sessions.use_keys(sessions.tokens.jwks)
    sessions.loaded = True  # nothing to load from identity here
    return sessions


def test_a_revoked_token_and_a_reset_user_are_refused(check):
    token, jti, _ = check.tokens.issue("u1", time.time())
    assert check.verify(token, None) == ("u1", jti)
    check.revoke(jti, time.time())
    with pytest.raises(ServiceError):
        check.verify(token, None)
    other, _, _ = check.tokens.issue("u2", time.time() - 5)
    check.end_sessions_of("u2", time.time())
    with pytest.raises(ServiceError):
        check.verify(other, None)


def test_old_revocations_and_resets_are_forgotten_and_recent_ones_kept(check):
    long_ago = time.time() - TOKEN_TTL - 60
    for i in range(600):
        check.revoke(f"old-{i}", long_ago)
        check.end_sessions_of(f"old-user-{i}", long_ago)
    check.revoke("recent", time.time())
    check.end_sessions_of("recent-user", time.time())
    assert len(check.revoked) < 256 and len(check.ended) < 256
    assert "recent" in check.revoked and "recent-user" in check.ended


def test_the_gateway_ends_sessions_when_password_set_says_so(check):
    """The gateway follows the event's ends_sessions, whatever the reason is called."""
    from nameko.testing.services import worker_factory

    from contracts.envelope import make_envelope
    from contracts.identity import PASSWORD_SET
    from gateway.service import GatewayService

    gateway = worker_factory(GatewayService, sessions=check)
    token, _, _ = check.tokens.issue("u3", time.time() - 5)

    def password_set(reason, ends_sessions):
        gateway.on_password_set(make_envelope(
            PASSWORD_SET, aggregate_id="u3", aggregate_version=2, occurred_at=datetime.now(UTC).isoformat(),
            payload={"user_id": "u3", "reason": reason, "ends_sessions": ends_sessions}))

    password_set("reset", False)
    assert check.verify(token, None)[0] == "u3"
    password_set("change", True)
    with pytest.raises(ServiceError):
        check.verify(token, None)


def test_the_gateway_remembers_for_as_long_as_identity_issues_tokens(check, monkeypatch):
    """One lifetime (contracts/tokens.py): a revocation is kept as long as the tokens identity issues live."""
    from services.identity.application import IdentityApplication
    monkeypatch.setenv("EVENT_STORE", "memory")
    claims = check.tokens.claims(IdentityApplication().tokens.issue("u4", time.time())[0])
    lifetime = claims["exp"] - int(claims["iat"])  # iat has a fraction, exp whole seconds
    assert lifetime == TOKEN_TTL == ACCESS_TOKEN_TTL
    check.revoke("j4", time.time() - lifetime + 5)
    assert check.revoked["j4"] > time.time()


def test_a_token_of_the_second_of_a_reset_is_refused_and_one_after_it_is_not(check):
    """Compared to the sub-second (identity issues `iat` with its fraction): a token issued in the
    same whole second as a reset, before it, dies with it; one issued after it lives."""
    second = int(time.time()) - 10
    before, _, _ = check.tokens.issue("u5", second + 0.2)
    after, _, _ = check.tokens.issue("u5", second + 0.9)
    check.end_sessions_of("u5", second + 0.7)
    with pytest.raises(ServiceError):
        check.verify(before, None)
    assert check.verify(after, None)[0] == "u5"

"""The gateway's own token check: revocations and resets are remembered only while they matter."""
import time

import pytest

from contracts.errors import ServiceError
from gateway.sessions import TOKEN_TTL, SessionCheck

pytestmark = pytest.mark.unit


@pytest.fixture
def check(fresh_var):
    sessions = SessionCheck()
    sessions.setup()
    sessions.loaded = True  # nothing to load from identity here
    return sessions


def test_a_revoked_token_and_a_reset_user_are_refused(check):
    token, jti, _ = check.tokens.issue("u1", time.time())
    assert check.verify(token, None) == ("u1", jti)
    check.forget(jti, time.time())
    with pytest.raises(ServiceError):
        check.verify(token, None)
    other, _, _ = check.tokens.issue("u2", time.time() - 5)
    check.end_sessions_of("u2", time.time())
    with pytest.raises(ServiceError):
        check.verify(other, None)


def test_old_revocations_and_resets_are_forgotten_and_recent_ones_kept(check):
    long_ago = time.time() - TOKEN_TTL - 60
    for i in range(600):
        check.forget(f"old-{i}", long_ago)
        check.end_sessions_of(f"old-user-{i}", long_ago)
    check.forget("recent", time.time())
    check.end_sessions_of("recent-user", time.time())
    assert len(check.revoked) < 256 and len(check.ended) < 256
    assert "recent" in check.revoked and "recent-user" in check.ended

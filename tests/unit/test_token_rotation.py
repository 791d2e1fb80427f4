"""Rotating identity's token keys (deploy/token_keys.py): a new key is published before it signs,
both verify during the overlap, and a retired key stops verifying at the gateway."""
import time

import pytest

from contracts.errors import ServiceError
from contracts.tokens import ACCESS_TOKEN_TTL, Tokens
from deploy import token_keys
from gateway import sessions as gateway_sessions
from gateway.sessions import SessionCheck

pytestmark = pytest.mark.unit


class Identity:
    """Identity as the gateway sees it: it signs with its key file's first key and answers the set."""

    def __init__(self, path):
        self.path = path
        self.restart()

    def restart(self):
        self.tokens = Tokens(token_keys.read(self.path), ACCESS_TOKEN_TTL)
        self.asked = 0

    def token(self, user_id):
        return self.tokens.issue(user_id, time.time())[0]

    def token_keys(self):
        self.asked += 1
        return self.tokens.jwks


@pytest.fixture
def gateway():
    check = SessionCheck()
    check.setup()
    check.loaded = True  # no revocations to load here
    return check


def accepted(gateway, identity, token):
    try:
        return gateway.verify(token, None, identity.token_keys)[0]
    except ServiceError:
        return None


def test_add_promote_retire(tmp_path, gateway, monkeypatch, capsys):
    path = tmp_path / "token-keys.pem"
    token_keys.main(["new", "--file", str(path)])
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    identity = Identity(path)
    old = identity.token("u-old")
    assert accepted(gateway, identity, old) == "u-old"
    old_kid = identity.tokens.kid

    token_keys.main(["add", "--file", str(path)])  # 1. published, not signing
    identity.restart()
    assert identity.tokens.kid == old_kid and len(identity.tokens.jwks["keys"]) == 2

    token_keys.main(["promote", "--file", str(path)])  # 2. the new key signs; the old still verifies
    identity.restart()
    new = identity.token("u-new")
    assert identity.tokens.kid != old_kid
    monkeypatch.setattr(gateway_sessions, "KEYS_MIN_INTERVAL", 0)
    assert accepted(gateway, identity, new) == "u-new"  # unknown kid: the gateway re-read the set
    assert accepted(gateway, identity, old) == "u-old"

    with pytest.raises(SystemExit):  # the signing key cannot be retired
        token_keys.main(["retire", identity.tokens.kid, "--file", str(path)])
    token_keys.main(["retire", old_kid, "--file", str(path)])  # 3. after a token's lifetime
    identity.restart()
    assert [k["kid"] for k in identity.tokens.jwks["keys"]] == [identity.tokens.kid]
    assert accepted(gateway, identity, old) == "u-old"  # until the gateway re-reads the set …
    monkeypatch.setattr(gateway_sessions, "KEYS_MAX_AGE", 0)
    assert accepted(gateway, identity, old) is None  # … which it does every KEYS_MAX_AGE seconds
    assert accepted(gateway, identity, new) == "u-new"
    assert f"{identity.tokens.kid}  signs and verifies" in capsys.readouterr().out


def test_unknown_kids_do_not_make_the_gateway_ask_identity_each_time(tmp_path, gateway):
    path = tmp_path / "token-keys.pem"
    token_keys.new(path)
    identity = Identity(path)
    assert accepted(gateway, identity, identity.token("u")) == "u"
    stranger_path = tmp_path / "stranger.pem"
    token_keys.new(stranger_path)
    stranger = Identity(stranger_path)
    for _ in range(20):
        assert accepted(gateway, identity, stranger.token("u")) is None
    assert identity.asked == 1  # within KEYS_MIN_INTERVAL the known set answers


def test_a_kid_beginning_with_a_dash_is_a_kid_not_an_option(tmp_path, capsys):
    """A thumbprint is base64url: one in 64 begins with '-'; `retire` takes it as the kid."""
    path = tmp_path / "token-keys.pem"
    token_keys.main(["new", "--file", str(path)])
    with pytest.raises(SystemExit, match="no key -abc in"):
        token_keys.main(["retire", "-abc", "--file", str(path)])
    with pytest.raises(SystemExit, match="no key -abc in"):
        token_keys.main(["retire", "-abc", f"--file={path}"])

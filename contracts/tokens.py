"""Access tokens: JWT HS256 signed with EPORT_TOKEN_SECRET, one jti (128+ random bits) each.

Identity issues them; identity and the gateway verify them (the gateway without a round trip,
see gateway/sessions.py). Expiry is checked against the caller's clock (not PyJWT's) so that
tests can move time; revocation is the caller's business (identity's RevokedSession aggregates,
the gateway's set of revoked jtis fed by SessionRevoked events).
"""
import secrets

import jwt

ALGORITHM = "HS256"
ISSUER = "eport-identity"
# The longest a token lives: identity issues tokens for it, and the gateway remembers a revocation
# or a reset for as long, since a token revoked earlier has expired by itself.
ACCESS_TOKEN_TTL = 30 * 60
MAX_TOKEN_INPUT = 4096  # characters; a longer bearer token is refused before it is parsed


class Tokens:
    def __init__(self, secret, ttl):
        self._secret = secret
        self.ttl = ttl

    def issue(self, user_id, now):
        jti = secrets.token_urlsafe(18)  # 144 bits
        expires_at = int(now) + self.ttl
        claims = {"sub": user_id, "jti": jti, "iat": int(now), "exp": expires_at, "iss": ISSUER}
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM), jti, expires_at

    def claims(self, token):
        """The verified claims of `token`, or None when it is not one of ours."""
        try:
            claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM], issuer=ISSUER,
                                options={"verify_exp": False, "verify_iat": False,
                                         "require": ["sub", "jti", "iat", "exp", "iss"]})
        except jwt.InvalidTokenError:
            return None
        if not all(isinstance(claims[k], str) for k in ("sub", "jti")) or \
                not isinstance(claims["exp"], (int, float)):
            return None
        return claims

"""Access tokens: JWT ES256 signed with a P-256 key only identity holds, `kid` in the header, one
jti (128+ random bits) each.

Identity issues them (Tokens, over its private keys: the first signs, every one verifies) and
publishes the public keys as a JWK set; the gateway and any business system verify with that set
alone (TokenVerifier), so nothing but identity can mint a token. Only ES256 with a known kid is
accepted: not `none`, not HS256 (whose "secret" would be the public key), not an unknown kid.
Every API token says `aud: "eport-api"` (API_AUDIENCE); a token without it or for another audience
(single sign-on's tokens for business systems name their client_id) is refused by the API.
Expiry is checked against the caller's clock (not PyJWT's) so that tests can move time;
revocation is the caller's business (identity's RevokedSession aggregates, the gateway's set of
revoked jtis fed by SessionRevoked events).

Rotation (deploy/token_keys.py): add a key at the end of identity's key file (published, not
signing), make it the first once every identity and gateway has the new set, retire the old one
once a token's lifetime has passed.
"""
import base64
import hashlib
import json
import re
import secrets

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

ALGORITHM = "ES256"
ISSUER = "eport-identity"
# The audience of this API's tokens: the gateway (and identity) accept no other, so that a token
# single sign-on issues to a business system (its client_id as audience) cannot be replayed at the API.
API_AUDIENCE = "eport-api"
# The longest a token lives: identity issues tokens for it, and the gateway remembers a revocation
# or a reset for as long, since a token revoked earlier has expired by itself.
ACCESS_TOKEN_TTL = 30 * 60
MAX_TOKEN_INPUT = 4096  # characters; a longer bearer token is refused before it is parsed
REQUIRED_CLAIMS = ["sub", "jti", "iat", "exp", "iss", "aud"]


def _b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_jwk(public_key):
    """The JWK of a P-256 public key; its kid is the RFC 7638 thumbprint."""
    numbers = public_key.public_numbers()
    jwk = {"crv": "P-256", "kty": "EC", "x": _b64url(numbers.x.to_bytes(32, "big")),
           "y": _b64url(numbers.y.to_bytes(32, "big"))}
    kid = _b64url(hashlib.sha256(json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()).digest())
    return {**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"}


def load_private_keys(pem_text):
    """The P-256 private keys of a PEM text, in order; ValueError saying what is wrong."""
    keys = []
    for match in re.finditer(r"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----", pem_text, flags=re.S):
        key = serialization.load_pem_private_key(match.group(0).encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("every key must be an EC P-256 private key (ES256)")
        keys.append(key)
    if not keys:
        raise ValueError("it holds no private key")
    return keys


def new_private_pem():
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


class TokenVerifier:
    """Verifies tokens with a JWK set ({"keys": [...]}) of ES256 public keys."""

    def __init__(self, jwks):
        self.jwks = {"keys": [dict(k) for k in jwks.get("keys", [])]}
        self._keys = {k["kid"]: ECAlgorithm.from_jwk(json.dumps(k)) for k in self.jwks["keys"]
                      if k.get("kty") == "EC" and k.get("crv") == "P-256" and isinstance(k.get("kid"), str)}

    def knows(self, token):
        """Is the token's kid one of ours (False for what is not a JWT at all)?"""
        try:
            return jwt.get_unverified_header(token).get("kid") in self._keys
        except jwt.InvalidTokenError:
            return False

    def _key_of(self, token):
        """The key of the token's kid, when it says ES256 and the kid is ours (InvalidTokenError: no JWT)."""
        header = jwt.get_unverified_header(token)
        return self._keys.get(header.get("kid")) if header.get("alg") == ALGORITHM else None

    def claims(self, token, audience=API_AUDIENCE):
        """The verified claims of `token`, or None when it is not one of ours or not for `audience`
        (a token without `aud` is for no one)."""
        try:
            key = self._key_of(token)
            if key is None:
                return None
            claims = jwt.decode(token, key, algorithms=[ALGORITHM], issuer=ISSUER, audience=audience,
                                options={"verify_exp": False, "verify_iat": False, "require": REQUIRED_CLAIMS})
        except (jwt.InvalidTokenError, TypeError, ValueError):
            return None
        if claims["aud"] != audience:  # exactly this audience: not a list that also names it
            return None
        if not all(isinstance(claims[k], str) for k in ("sub", "jti")) or \
                not isinstance(claims["exp"], (int, float)) or not isinstance(claims["iat"], (int, float)):
            return None
        return claims

    def client_token_claims(self, token, issuer):
        """The verified claims of an ID token single sign-on gave a business system (an `id_token_hint`),
        or None: signed with one of our keys, `iss` the provider, `aud` one client (a string, never this
        API), no logout token. Its expiry is not checked: a logout may come long after it (RP-Initiated
        Logout 1.0, section 2)."""
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_INPUT:
            return None
        try:
            key = self._key_of(token)
            if key is None:
                return None
            claims = jwt.decode(token, key, algorithms=[ALGORITHM], issuer=issuer,
                                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                                         "verify_aud": False, "require": ["iss", "aud", "sub"]})
        except (jwt.InvalidTokenError, TypeError, ValueError):
            return None
        if not isinstance(claims["aud"], str) or claims["aud"] == API_AUDIENCE or "events" in claims or \
                not isinstance(claims["sub"], str):
            return None
        return claims


class Tokens(TokenVerifier):
    """Identity's side: issues with the first of its private keys, verifies with all of them."""

    def __init__(self, private_keys, ttl):
        self._signing_key = private_keys[0]
        self.kid = public_jwk(private_keys[0].public_key())["kid"]
        self.ttl = ttl
        super().__init__({"keys": [public_jwk(k.public_key()) for k in private_keys]})

    def issue(self, user_id, now, audience=API_AUDIENCE):
        jti = secrets.token_urlsafe(18)  # 144 bits
        expires_at = int(now) + self.ttl
        # `iat` to the sub-second (a JWT NumericDate may have a fraction): a reset ends the sessions
        # issued before it, also those of its own second; a client reading whole seconds truncates.
        claims = {"sub": user_id, "jti": jti, "iat": now, "exp": expires_at, "iss": ISSUER, "aud": audience}
        token = jwt.encode(claims, self._signing_key, algorithm=ALGORITHM, headers={"kid": self.kid})
        return token, jti, expires_at

    def sign_for_client(self, claims, issuer):
        """A token single sign-on gives a business system (an ID token, a logout token), signed with
        the same key: its `aud` must name a client, never this API, and its `iss` is the provider's,
        so that neither can pass for the other's token."""
        aud = claims.get("aud")
        if not isinstance(aud, str) or not aud or aud == API_AUDIENCE or claims.get("iss") != issuer:
            raise ValueError("a client's token names a client as audience and the provider as issuer")
        return jwt.encode(dict(claims), self._signing_key, algorithm=ALGORITHM,
                          headers={"kid": self.kid, **({"typ": "logout+jwt"} if "events" in claims else {})})

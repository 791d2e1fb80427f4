"""The origin of an integration event: an Ed25519 signature of its source service (docs/subscribers.md).

Anyone who may put a message on a queue (an operator's replay, a dead-letter return, a stray
publisher) could otherwise speak for a service. So each source signs every envelope it publishes
with a key only it holds, and a consumer believes an envelope only when a public key published
for that very source verifies it. The signature is in the envelope's body, so it survives every
re-publishing: a replay, a dead letter put back, a page of `ops_events` read by a rebuild.

What is signed: the JSON canonical form (RFC 8785, JCS) of the envelope's ten members, all but
`signature`. For these envelopes (strings, integers, booleans, null, objects; ASCII member names)
it is Python's `json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False)` in UTF-8.
`signature` is {"kid": the key's id in the published key set, "sig": base64url of the 64 bytes}.

A window of a source's history read whole (a page of `ops_events` a rebuild asks for) may be signed
as one: the same key over WINDOW_DOMAIN, the request it answers and the exact bytes of the window
(`Signer.sign_window`, `KeySet.verify_window`). One verification then covers a thousand envelopes,
each of which still carries its own signature for whoever keeps or passes it on; the domain prefix
keeps a window's signature from ever passing for an envelope's (whose signed bytes start with `{`).
Or over the window's SHA-256 digest in its place (WINDOW_DIGEST_DOMAIN; the signature says so with
`"digest": "sha-256"`): Ed25519 hashes what it signs twice with SHA-512, 1.1 ms for a window of
600 KB, where one SHA-256 (in hardware) takes 0.3. Either is sound and neither passes for the other
(their domains differ); the signature names the one it is, and an unknown one is refused.

The published key set is a JWK set (RFC 8037 OKP keys, `crv` Ed25519, `alg` EdDSA), each key with
`eport_source`: the one service whose events it verifies. Served by the gateway at
/.well-known/event-keys.json.
"""
import base64
import hashlib
import json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .envelope import EnvelopeSchema

SIGNATURE = "signature"
SOURCE_MEMBER = "eport_source"
SIGNED_MEMBERS = tuple(name for name in EnvelopeSchema._declared_fields if name != SIGNATURE)
SEED_BYTES = 32
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
WINDOW_DOMAIN = b"eport-window\n"
WINDOW_DIGEST_DOMAIN, DIGEST = b"eport-window-sha256\n", "sha-256"


class OriginNotProven(ValueError):
    """The envelope is unsigned, signed by a key not published for its source, or altered."""


def _b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical(envelope):
    """The bytes a signature covers: the JCS form of the envelope's members but `signature`."""
    return _CANONICAL.encode({name: envelope.get(name) for name in SIGNED_MEMBERS}).encode("utf-8")


def _raw_public(public_key):
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_jwk(source, public_key):
    """The JWK of a source's Ed25519 public key; its kid is the RFC 7638 thumbprint."""
    jwk = {"crv": "Ed25519", "kty": "OKP", "x": _b64url(_raw_public(public_key))}
    kid = _b64url(hashlib.sha256(json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()).digest())
    return {**jwk, "kid": kid, "alg": "EdDSA", "use": "sig", SOURCE_MEMBER: source}


def private_key_of(seed):
    """The Ed25519 private key of 32 seed bytes."""
    return Ed25519PrivateKey.from_private_bytes(seed)


class Signer:
    """Signs the envelopes of one source with its private key."""

    def __init__(self, source, private_key):
        self.source = source
        self._key = private_key
        self.jwk = public_jwk(source, private_key.public_key())

    def sign(self, envelope):
        """The envelope (a new dict) with its signature; an envelope of another source is refused."""
        if envelope.get("source") != self.source:
            raise OriginNotProven(f"the key of {self.source} does not sign events of {envelope.get('source')}")
        sig = self._key.sign(canonical(envelope))
        return {**envelope, SIGNATURE: {"kid": self.jwk["kid"], "sig": _b64url(sig)}}

    def sign_window(self, request, window, digest=False):
        """The signature ({"kid", "sig"}) of `window` (bytes) answering `request` (bytes naming
        what was asked, the source first: `window_request`); with `digest`, over its SHA-256."""
        signed = {"kid": self.jwk["kid"], "sig": _b64url(self._key.sign(_window_message(request, window, digest)))}
        return {**signed, "digest": DIGEST} if digest else signed


def window_request(source, *asked):
    """The bytes naming a request for a window of `source`'s history: its source and arguments."""
    return json.dumps([source, *asked], separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _window_message(request, window, digest=False):
    if digest:
        return WINDOW_DIGEST_DOMAIN + len(request).to_bytes(4, "big") + request + hashlib.sha256(window).digest()
    return WINDOW_DOMAIN + len(request).to_bytes(4, "big") + request + window


class KeySet:
    """The published public keys: kid -> (source, key). A key published for two sources, or two
    sources sharing one key, is refused: a key speaks for one service."""

    def __init__(self, jwks):
        self.keys = {}
        seen = {}
        for jwk in jwks.get("keys", ()):
            if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not jwk.get(SOURCE_MEMBER):
                raise ValueError(f"key {jwk.get('kid')!r}: not an Ed25519 key of a source")
            raw = _unb64url(jwk["x"])
            if seen.setdefault(raw, jwk[SOURCE_MEMBER]) != jwk[SOURCE_MEMBER]:
                raise ValueError(f"one key is published for both {seen[raw]} and {jwk[SOURCE_MEMBER]}")
            self.keys[jwk["kid"]] = (jwk[SOURCE_MEMBER], Ed25519PublicKey.from_public_bytes(raw))
        self.document = {"keys": list(jwks.get("keys", ()))}

    def verify(self, envelope, source=None):
        """Returns the envelope when a key published for its source (and for `source`, when given)
        verifies its signature; raises OriginNotProven otherwise."""
        signature = envelope.get(SIGNATURE)
        if not isinstance(signature, dict) or not isinstance(signature.get("sig"), str):
            raise OriginNotProven("unsigned")
        if source is not None and envelope.get("source") != source:
            raise OriginNotProven(f"an event of {envelope.get('source')!r} where only {source}'s are expected")
        key_source, key = self.keys.get(signature.get("kid"), (None, None))
        if key is None:
            raise OriginNotProven("signed with a key not published")
        if key_source != envelope.get("source"):
            raise OriginNotProven(f"signed with a key of {key_source}, not of {envelope.get('source')!r}")
        try:
            key.verify(_unb64url(signature["sig"]), canonical(envelope))
        except (InvalidSignature, ValueError):
            raise OriginNotProven("the signature does not match the envelope") from None
        return envelope

    def verify_window(self, source, request, window, signature):
        """Returns `window` (bytes) when a key published for `source` signed it as the answer to
        `request` (`window_request(source, ...)`); raises OriginNotProven otherwise."""
        if not isinstance(signature, dict) or not isinstance(signature.get("sig"), str):
            raise OriginNotProven("unsigned window")
        key_source, key = self.keys.get(signature.get("kid"), (None, None))
        if key is None:
            raise OriginNotProven("window signed with a key not published")
        if key_source != source:
            raise OriginNotProven(f"window signed with a key of {key_source}, not of {source!r}")
        if signature.get("digest", DIGEST) != DIGEST:
            raise OriginNotProven(f"window signed over an unknown digest {signature.get('digest')!r}")
        try:
            key.verify(_unb64url(signature["sig"]), _window_message(request, window, "digest" in signature))
        except (InvalidSignature, ValueError):
            raise OriginNotProven("the signature does not match the window") from None
        return window

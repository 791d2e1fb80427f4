"""/healthz and /openapi.json."""
import eventlet
from marshmallow import Schema, fields

from services.common.deployment import BACKENDS, deployed_services

from .routing import route

PING_TIMEOUT = 2.0


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"description": "ok, or degraded when a service is down"})
    services = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class JwkSchema(Schema):
    kty = fields.String(required=True, metadata={"description": "EC"})
    crv = fields.String(required=True, metadata={"description": "P-256"})
    x = fields.String(required=True)
    y = fields.String(required=True)
    kid = fields.String(required=True, metadata={"description": "RFC 7638 thumbprint; the token header's kid"})
    alg = fields.String(required=True, metadata={"description": "ES256"})
    use = fields.String(required=True, metadata={"description": "sig"})


class JwksSchema(Schema):
    keys = fields.List(fields.Nested(JwkSchema), required=True)


class EventJwkSchema(Schema):
    kty = fields.String(required=True, metadata={"description": "OKP"})
    crv = fields.String(required=True, metadata={"description": "Ed25519"})
    x = fields.String(required=True, metadata={"description": "the public key, base64url"})
    kid = fields.String(required=True, metadata={"description": "RFC 7638 thumbprint; an envelope's signature.kid"})
    alg = fields.String(required=True, metadata={"description": "EdDSA"})
    use = fields.String(required=True, metadata={"description": "sig"})
    eport_source = fields.String(required=True, metadata={"description": "the one service whose events it verifies"})


class EventJwksSchema(Schema):
    keys = fields.List(fields.Nested(EventJwkSchema), required=True)


class PlatformRoutes:
    @route("GET", "/healthz", summary="Health of the gateway and every service", auth=False,
           response=HealthSchema, tags=("platform",),
           description="503 with the same body when one service does not answer its ping.")
    def healthz(self, request):
        pool = eventlet.GreenPool()
        deployed = deployed_services()
        names = [n for n in BACKENDS if n in deployed]
        states = dict(zip(names, pool.imap(self._ping, names), strict=True))
        healthy = all(v == "ok" for v in states.values())
        return (200 if healthy else 503), {"status": "ok" if healthy else "degraded", "services": states}

    def _ping(self, name):
        try:
            with eventlet.Timeout(PING_TIMEOUT):
                return "ok" if getattr(self, name).ping() == "pong" else "down"
        except BaseException:  # Timeout is a BaseException; any failure means down
            return "down"

    @route("GET", "/.well-known/jwks.json", summary="The public keys that verify access tokens", auth=False,
           response=JwksSchema, tags=("platform",),
           description="ES256 keys as a JWK set: a token's header names its key by kid. During a key "
                       "rotation the set holds both keys.")
    def jwks(self, request):
        return self.sessions.keys(self._token_keys)

    @route("GET", "/.well-known/event-keys.json", summary="The public keys that verify integration events",
           auth=False, response=EventJwksSchema, tags=("platform",),
           description="Ed25519 keys as a JWK set, each for one source service (`eport_source`): believe an event "
                       "only when the key its signature names is published here for the event's `source` "
                       "(docs/subscribers.md).")
    def event_keys(self, request):
        from services.common.event_keys import key_set
        return key_set().document

    @route("GET", "/openapi.json", summary="This OpenAPI document", auth=False, tags=("platform",))
    def openapi(self, request):
        from .openapi import build_spec  # every mixin's routes are registered by now
        if not hasattr(type(self), "_openapi"):
            type(self)._openapi = build_spec()
        return type(self)._openapi

"""Only identity speaks for identity on the bus: a SessionRevoked someone else publishes to
`identity.events` (here the broker's admin user, which may publish anywhere) logs nobody out of the
launched platform's gateway, and a genuine logout still does."""
import os
import uuid
from datetime import UTC, datetime

import jwt
import pytest
from kombu import Connection, Producer

from contracts.envelope import make_envelope
from contracts.identity import SESSION_REVOKED
from contracts.subscriptions import exchange
from services.common.event_keys import signer
from tests.e2e.enterprise_people import register, wait_for

pytestmark = pytest.mark.e2e


def revocation(user_id, session_id):
    return make_envelope(SESSION_REVOKED, aggregate_id=str(uuid.uuid4()), aggregate_version=1,
                         occurred_at=datetime.now(UTC), payload={"user_id": user_id, "session_id": session_id})


def test_a_forged_session_revocation_logs_nobody_out(api, platform):
    person, witness = register(api), register(api)
    claims = jwt.decode(person.token, options={"verify_signature": False})
    seen = jwt.decode(witness.token, options={"verify_signature": False})
    unsigned = revocation(claims["sub"], claims["jti"])
    by_enterprise = {**signer("enterprise").sign(dict(revocation(claims["sub"], claims["jti"]),
                                                      source="enterprise")), "source": "identity"}
    with Connection(os.environ["E2E_AMQP_URI"]) as conn:
        producer = Producer(conn.channel(), exchange=exchange("identity"), serializer="json")
        for forged in (unsigned, by_enterprise):
            producer.publish(forged, routing_key="SessionRevoked", message_id=forged["event_id"])
        # then one identity signed (the tests hold the development keys): once it has taken effect,
        # the gateway has handled the forged ones before it
        genuine = signer("identity").sign(revocation(seen["sub"], seen["jti"]))
        producer.publish(genuine, routing_key="SessionRevoked", message_id=genuine["event_id"])
    wait_for(lambda: api.get("/api/v1/me", token=witness.token).status_code == 401, timeout=10)
    assert api.get("/api/v1/me", token=person.token).status_code == 200
    assert api.delete("/api/v1/sessions/current", token=person.token).status_code == 204  # genuine: refused
    assert api.get("/api/v1/me", token=person.token).status_code == 401

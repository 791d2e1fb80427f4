"""The request id two RPC hops deep: a card login goes gateway -> card -> identity
(start_card_session), and identity's UserLoggedIn carries the login request's X-Request-ID."""
import os
import uuid
from pathlib import Path

import pytest

from deploy.eport import audit
from eport_card.devca import load_ca
from services.card.trust import ensure_dev_ca
from tests.e2e.conftest import skip_unless_deployed
from tests.e2e.enterprise_people import apply, approve, register, register_enterprise, wait_for
from tests.e2e.card_steps import sign_nonce, bind_card

pytestmark = [pytest.mark.e2e]


def test_a_card_login_s_event_in_identity_carries_the_request_id(api, platform, monkeypatch):
    skip_unless_deployed(platform, {"identity", "enterprise", "card", "audit", "gateway"})
    admin, member = register(api), register(api)
    eid, uscc = register_enterprise(api, admin)
    approve(api, admin, apply(api, member, uscc))
    card = bind_card(api, member, eid, uscc, load_ca(ensure_dev_ca(Path(platform.env["EPORT_VAR"]) / "card-ca")))
    r = api.post("/api/v1/card-challenges", json={"purpose": "login", "card_no": card.card_no})
    assert r.status_code == 201, r.text
    challenge, rid = r.json(), f"card-login-{uuid.uuid4()}"
    r = api.post("/api/v1/sessions", headers={"X-Request-ID": rid}, json={
        "method": "card", "challenge_id": challenge["challenge_id"], "certificate": card.certificate_pem,
        "signature": sign_nonce(card, challenge["nonce"])})
    assert r.status_code == 201 and r.headers["X-Request-ID"] == rid, r.text
    monkeypatch.setenv("EPORT_AMQP_URI", os.environ["E2E_AMQP_URI"])
    items = wait_for(lambda: audit.fetch(correlation_id=rid, limit=10))
    assert [(i["source"], i["event_type"], i["payload"]["method"]) for i in items] == \
        [("identity", "UserLoggedIn", "card")]
    assert items[0]["correlation_id"] == rid

"""The README's upgrade step for stores from before role certification (角色认证), as an operator runs
it against the running platform: `eport replay card --to-queue enterprise.card-events`. On live data
it certifies nobody again (each binding certified once, when it was made) and leaves an
uncertified administrator uncertified; what it certifies in old stores is tested with a
republished legacy CardBound in tests/integration/test_certification_replay.py."""
import json
import time

import pytest

from tests.e2e.enterprise_people import register, register_enterprise, wait_for
from tests.eport_cli import eport, json_lines

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

QUEUE = "enterprise.card-events"


def role_certified_events(operator):
    return json_lines(eport("events", "enterprise", "--type", "RoleCertified", "--limit", "100000", "--json",
                            amqp_uri=operator))


def waiting(operator, queue):
    body = json.loads(eport("status", "--json", amqp_uri=operator).stdout)
    return next(q for q in body["queues"] if q["queue"] == queue)["waiting"]


def test_replaying_the_card_history_certifies_nobody_twice(api, platform):
    operator = (platform.broker_uris or {}).get("operator", platform.env["AMQP_URI"])
    admin, squatter = register(api), register(api)
    eid, _ = register_enterprise(api, admin)  # binds the legal-person card: certified now
    squatted, _ = register_enterprise(api, squatter, certify_role=False)
    wait_for(lambda: waiting(operator, QUEUE) == 0)
    before = role_certified_events(operator)
    assert eid in {e["payload"]["enterprise_id"] for e in before}

    done = eport("replay", "card", "--to-queue", QUEUE, amqp_uri=operator)
    assert "replayed" in done.stdout and "card event(s)" in done.stdout
    wait_for(lambda: waiting(operator, QUEUE) == 0)
    time.sleep(1)  # the last ones delivered, not yet acknowledged, are handled by now
    assert role_certified_events(operator) == before
    assert api.get(f"/api/v1/enterprises/{eid}", token=admin.token).json()["admin_role_certified"] is True
    assert api.get(f"/api/v1/enterprises/{squatted}", token=squatter.token).json()["admin_role_certified"] is False

"""Only a service speaks for itself on the bus (contracts/signatures.py): what an operator's broker
user puts on a consumer's queue through `eport.replay` is applied only when its source signed it.
Real RabbitMQ, the real authz service and its queue; a stand-in enterprise publishes through the
real relay."""
import json
import uuid

import pytest
from nameko.testing.services import entrypoint_hook

from contracts import enterprise as ent
from contracts.envelope import make_envelope
from contracts.subscriptions import subscription
from services.common.event_keys import signer
from tests.support import dead_letters_of, replay_into, signed

from .authz_support import AuthzService, FakeEnterpriseService, app_of, enterprise_story, wait_for

pytestmark = pytest.mark.integration

ADMIN, MEMBER, MALLORY = "u-admin", "u-member", "u-mallory"
QUEUE = subscription("authz", "enterprise").queue_name


def check(container, user, eid, system="manifest"):
    with entrypoint_hook(container, "check") as fn:
        return fn(user, eid, system)


def forged_certification(eid, user_id, version=2 ** 40):
    """RoleCertified of `user_id`, at a version later than any genuine event of the enterprise."""
    return make_envelope(ent.ROLE_CERTIFIED, aggregate_id=eid, aggregate_version=version,
                         occurred_at="2026-12-07T08:00:00+00:00", payload={
                             "enterprise_id": eid, "user_id": user_id, "association_id": f"assoc-{user_id}",
                             "via": "legal_person_card", "card_no": None})


def test_a_forged_role_certification_replayed_into_authz_is_parked_not_applied(container_factory, authz_config,
                                                                                 authz_amqp_uri):
    authz = container_factory(AuthzService, authz_config)
    authz.start()
    eid = str(uuid.uuid4())
    story = enterprise_story(eid, ADMIN, MEMBER)[:4]  # registered, certified, two members
    replay_into(authz_amqp_uri, QUEUE, [signed(e) for e in story])  # a genuine replay is applied
    app = app_of(authz)
    wait_for(lambda: all(app.is_processed("authz", e["event_id"]) for e in story), what="the genuine history")
    assert check(authz, ADMIN, eid) is True and check(authz, MALLORY, eid) is False

    unsigned = forged_certification(eid, MALLORY)
    by_another_source = signer("card").sign(dict(forged_certification(eid, MALLORY, 2 ** 41), source="card"))
    relabelled = {**by_another_source, "source": "enterprise"}  # card's key, saying it is enterprise's
    altered = json.loads(json.dumps(signed(forged_certification(eid, ADMIN, 2 ** 42))))
    altered["payload"]["user_id"] = MALLORY  # a genuine signature over another user
    forgeries = [unsigned, relabelled, altered]
    replay_into(authz_amqp_uri, QUEUE, forgeries)

    wait_for(lambda: len(dead_letters_of(authz_amqp_uri, QUEUE)) >= 3
             or all(app.is_processed("authz", f["event_id"]) for f in forgeries), what="the forgeries handled")
    assert check(authz, MALLORY, eid) is False and check(authz, ADMIN, eid) is True
    parked = dead_letters_of(authz_amqp_uri, QUEUE)
    assert sorted(event_id for event_id, _ in parked) == sorted(f["event_id"] for f in forgeries)
    assert all(reason.startswith("origin not proven") for _, reason in parked)
    assert not any(app.is_processed("authz", f["event_id"]) for f in forgeries)
    assert check(authz, MALLORY, eid) is False and check(authz, ADMIN, eid) is True
    assert not app.projection.get(eid).is_certified_admin(MALLORY)


def test_the_relay_signs_what_it_publishes_and_authz_applies_it(container_factory, authz_config):
    authz = container_factory(AuthzService, authz_config)
    enterprise = container_factory(FakeEnterpriseService, authz_config)
    authz.start()
    enterprise.start()
    with entrypoint_hook(enterprise, "register") as register:
        eid = register(ADMIN)
    wait_for(lambda: check(authz, ADMIN, eid), what="authz to learn the certified administrator")

"""Domain events of the enterprise service as integration events: right types, valid payloads, no PII."""
import json
import uuid

import pytest

from contracts.envelope import REGISTRY, read_envelope
from services.enterprise.application import EnterpriseApplication
from tests.factories import new_uscc
from tests.enterprise_support import published

pytestmark = pytest.mark.unit
APPLICATION = EnterpriseApplication  # the `app` fixture's (tests/unit/conftest.py)


def test_the_whole_story_publishes_valid_envelopes(app):
    admin, user, uscc = str(uuid.uuid4()), str(uuid.uuid4()), new_uscc()
    ent = app.associate(admin, uscc, "admin", name="杭州某某有限公司", address="杭州", business_scope="贸易")
    app.certify_card(admin, ent["enterprise_id"], ent["association_id"], "8800000000001", "legal_person", uscc)
    req = app.associate(user, uscc, "user", user_name="李四")
    app.approve(admin, req["association_id"])
    other = str(uuid.uuid4())
    rej = app.associate(other, uscc, "user", user_name="王五")
    app.reject(admin, rej["association_id"], "不是本企业员工")
    app.transfer_admin(admin, ent["enterprise_id"], user)
    app.remove_member(user, ent["enterprise_id"], admin)
    envelopes = published(app)
    assert [e["event_type"] for e in envelopes] == [
        "EnterpriseRegistered", "AssociationApproved", "EnterpriseCertified", "RoleCertified",
        "AssociationRequested", "AssociationApproved",
        "AssociationRequested", "AssociationRejected", "AdminTransferred", "RoleCertified", "MemberRemoved"]
    for envelope in envelopes:
        loaded = read_envelope(json.loads(json.dumps(envelope)))
        schema = REGISTRY[("enterprise", loaded["event_type"])].payload()
        assert schema.validate(loaded["payload"]) == {}
    requested = envelopes[4]["payload"]
    assert requested["admin_user_id"] == admin and requested["user_name"] is None  # names stay out of events
    assert "李四" not in json.dumps(envelopes, ensure_ascii=False)
    assert requested["association_id"] == req["association_id"]
    assert envelopes[7]["payload"]["reason"] == "不是本企业员工"
    assert envelopes[8]["payload"] == {"enterprise_id": ent["enterprise_id"], "from_user_id": admin,
                                       "to_user_id": user, "enterprise_name": "杭州某某有限公司"}
    assert envelopes[9]["payload"]["via"] == "handover" and envelopes[9]["payload"]["user_id"] == user
    assert envelopes[10]["payload"]["user_id"] == admin and envelopes[10]["actor_user_id"] == user
    assert len({e["event_id"] for e in envelopes}) == len(envelopes)
    assert published(app) == envelopes  # republishing gives the same event ids

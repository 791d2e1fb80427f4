"""What enterprise and notify ask other services goes through their `peers.py` (as card's): the
application asks only when it needs the answer, and the real `Peers` turns the peer's answers into
what the application expects. The fakes are tests/peers.py's."""
from types import SimpleNamespace

import pytest

from contracts import errors as e
from contracts.errors import ServiceError
from services.enterprise.application import EnterpriseApplication
from services.notify import peers as notify_peers
from services.notify.application import named
from tests.factories import new_uscc
from tests.peers import FakeEnterprisePeers, FakeNotifyPeers
from tests.support import raises_code

pytestmark = pytest.mark.unit
MANUAL = {"name": "杭州测试贸易有限公司", "address": "浙江省杭州市西湖区文三路1号", "business_scope": "货物进出口"}


@pytest.fixture
def enterprise(monkeypatch):
    monkeypatch.setenv("EVENT_STORE", "memory")
    return EnterpriseApplication()


def test_enterprise_asks_identity_the_name_of_a_well_formed_user_application_only(enterprise):
    peers = FakeEnterprisePeers({"u-applicant": "李四"})
    uscc = new_uscc()
    enterprise.associate("u-admin", uscc, "admin", peers=peers, **MANUAL)
    assert peers.asked == []  # registering names nobody
    assert raises_code(enterprise.associate, "u-applicant", "not a uscc", "user", peers=peers) == e.VALIDATION_ERROR
    assert peers.asked == []  # bad input: nothing asked
    enterprise.associate("u-applicant", uscc, "user", peers=peers)
    assert peers.asked == ["u-applicant"]


def test_notify_names_an_authz_event_s_enterprise_through_its_peers():
    peers = FakeNotifyPeers({"e1": "杭州测试贸易有限公司"})
    grant = {"source": "authz", "payload": {"enterprise_id": "e1", "user_id": "u1"}}
    assert named(grant, peers)["payload"]["enterprise_name"] == "杭州测试贸易有限公司"
    unknown = {"source": "authz", "payload": {"enterprise_id": "e2"}}
    assert named(unknown, peers)["payload"]["enterprise_name"] is None
    assert named({"source": "enterprise", "payload": {"enterprise_id": "e1"}}, peers)["payload"] == {
        "enterprise_id": "e1"}
    assert peers.asked == ["e1", "e2"]  # enterprise's own events carry the name
    peers.away = True
    assert raises_code(named, grant, peers) == e.SERVICE_UNAVAILABLE  # the delivery fails, comes again


def test_notify_peers_read_an_unknown_enterprise_as_no_name_and_pass_other_errors_on():
    def get_enterprise(enterprise_id):
        if enterprise_id == "e1":
            return {"enterprise_id": "e1", "name": "甲"}
        raise ServiceError(e.ENTERPRISE_NOT_FOUND if enterprise_id == "e2" else e.FORBIDDEN, "no")

    peers = notify_peers.Peers(SimpleNamespace(get_enterprise=get_enterprise))
    assert peers.enterprise_name("e1") == "甲"
    assert peers.enterprise_name("e2") is None
    assert raises_code(peers.enterprise_name, "e3") == e.FORBIDDEN

"""The enterprise service over real RPC and RabbitMQ with real SQLite: the association story with
the inbox fed by the relay, and the approval and transfer races between two workers."""
import eventlet
import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from contracts import errors as e
from contracts.errors import ServiceError
from services.enterprise.application import EnterpriseApplication
from services.enterprise.service import EnterpriseService
from tests.factories import new_uscc
from tests.integration.enterprise_fakes import FakeIdentity, InboxOnlyNotify
from tests.support import wait_for
from tests.support import raises_code

pytestmark = pytest.mark.integration

MANUAL = {"name": "宁波测试进出口有限公司", "address": "浙江省宁波市北仑区明州路1号", "business_scope": "货物进出口"}


@pytest.fixture
def services(fresh_var, runner_factory, config):
    runner = runner_factory(config, EnterpriseService, FakeIdentity, InboxOnlyNotify)
    runner.start()
    with ServiceRpcProxy("enterprise", config) as enterprise, ServiceRpcProxy("notify", config) as notify:
        yield enterprise, notify


def register(enterprise, admin, uscc):
    registered = enterprise.associate(admin, uscc, "admin", MANUAL["name"], MANUAL["address"], MANUAL["business_scope"])
    certify(enterprise, admin, registered, uscc)
    return registered["enterprise_id"]


def certify(enterprise, admin, registered, uscc):
    """The administrator bound the enterprise's legal-person card: the card service tells it so."""
    out = enterprise.certify_card(admin, registered["enterprise_id"], registered["association_id"], "8800000000001",
                                  "legal_person", uscc)
    assert out == {"certified": True, "role_certified": True}


def test_the_association_story_reaches_the_inbox(services):
    enterprise, notify = services
    admin, applicant = FakeIdentity.add("王管理"), FakeIdentity.add("李申请")
    uscc = new_uscc()
    registered = enterprise.associate(admin, uscc, "admin", MANUAL["name"], MANUAL["address"], MANUAL["business_scope"])
    eid = registered["enterprise_id"]
    certify(enterprise, admin, registered, uscc)
    request = enterprise.associate(applicant, uscc, "user")
    assert request["status"] == "pending"

    inbox = wait_for(lambda: notify.list_messages(admin, True)["items"])
    assert [m["kind"] for m in inbox] == ["association_requested"]
    assert inbox[0]["data"]["association_id"] == request["association_id"]
    assert "李申请" not in inbox[0]["body"] and MANUAL["name"] in inbox[0]["body"]  # who applied: in the list

    assert enterprise.approve(admin, inbox[0]["data"]["association_id"])["status"] == "approved"
    told = wait_for(lambda: notify.list_messages(applicant, False)["items"])
    assert told[0]["kind"] == "association_approved"
    assert enterprise.membership(applicant, eid) == {"association_id": request["association_id"],
                                                     "role": "user", "status": "approved", "uscc": uscc,
                                                     "role_certified": False}
    assert [a["enterprise_name"] for a in enterprise.associations_of_user(applicant)] == [MANUAL["name"]]

    assert enterprise.transfer_admin(admin, eid, applicant) == {"enterprise_id": eid, "admin_user_id": applicant}
    wait_for(lambda: any(m["kind"] == "admin_transferred" for m in notify.list_messages(admin, False)["items"]))
    wait_for(lambda: any(m["kind"] == "admin_transferred" for m in notify.list_messages(applicant, False)["items"]))

    third = FakeIdentity.add("赵第三")
    late = enterprise.associate(third, uscc, "user")
    assert raises_code(enterprise.approve, admin, late["association_id"]) == e.FORBIDDEN
    # the new administrator is asked now
    wait_for(lambda: notify.list_messages(applicant, True)["items"][0]["kind"] == "association_requested")


def test_an_unknown_applicant_is_refused_by_identity(services):
    enterprise, _ = services
    admin = FakeIdentity.add()
    uscc = new_uscc()
    enterprise.associate(admin, uscc, "admin", MANUAL["name"], MANUAL["address"], MANUAL["business_scope"])
    assert raises_code(enterprise.associate, "no-such-user", uscc, "user") == e.USER_NOT_FOUND


@pytest.fixture
def slow_saves(monkeypatch):
    """Every save waits a moment first, so two workers both load before either saves."""
    real_save = EnterpriseApplication.save

    def slow(self, *aggregates, **kwargs):
        eventlet.sleep(0.3)
        return real_save(self, *aggregates, **kwargs)

    def on():
        monkeypatch.setattr(EnterpriseApplication, "save", slow)

    return on


def race(config, method, *calls):
    """Run the calls of `method` at the same time, each on its own RPC connection."""
    def one(args):
        with ServiceRpcProxy("enterprise", config) as proxy:
            try:
                return "ok", getattr(proxy, method)(*args)
            except ServiceError as exc:
                return exc.code, None

    pool = eventlet.GreenPool()
    return list(pool.imap(one, calls))


def test_two_simultaneous_approvals_one_wins(services, slow_saves, config):
    enterprise, _ = services
    admin, applicant = FakeIdentity.add(), FakeIdentity.add()
    uscc = new_uscc()
    eid = register(enterprise, admin, uscc)
    association_id = enterprise.associate(applicant, uscc, "user")["association_id"]
    slow_saves()
    outcomes = race(config, "approve", (admin, association_id), (admin, association_id))
    assert sorted(code for code, _ in outcomes) == [e.CONFLICT, "ok"]
    assert enterprise.membership(applicant, eid)["status"] == "approved"


def test_two_simultaneous_decisions_on_one_enterprise_one_wins(services, slow_saves, config):
    enterprise, _ = services
    admin = FakeIdentity.add()
    uscc = new_uscc()
    eid = register(enterprise, admin, uscc)
    a, b = FakeIdentity.add(), FakeIdentity.add()
    ra, rb = (enterprise.associate(u, uscc, "user")["association_id"] for u in (a, b))
    slow_saves()
    outcomes = race(config, "approve", (admin, ra), (admin, rb))
    assert sorted(code for code, _ in outcomes) == [e.CONFLICT, "ok"]
    statuses = sorted(enterprise.membership(u, eid)["status"] for u in (a, b))
    assert statuses == ["approved", "pending"]


def test_two_simultaneous_transfers_one_wins(services, slow_saves, config):
    enterprise, _ = services
    admin = FakeIdentity.add()
    uscc = new_uscc()
    eid = register(enterprise, admin, uscc)
    b, c = FakeIdentity.add(), FakeIdentity.add()
    for u in (b, c):
        enterprise.approve(admin, enterprise.associate(u, uscc, "user")["association_id"])
    slow_saves()
    outcomes = race(config, "transfer_admin", (admin, eid, b), (admin, eid, c))
    assert sorted(code for code, _ in outcomes) == [e.CONFLICT, "ok"]
    winner = next(result for code, result in outcomes if code == "ok")["admin_user_id"]
    roles = {u: enterprise.membership(u, eid)["role"] for u in (admin, b, c)}
    assert roles == {admin: "user", b: "admin" if winner == b else "user", c: "admin" if winner == c else "user"}
    assert enterprise.get_enterprise(eid)["admin_user_id"] == winner


def test_bad_input_is_refused_before_identity_is_asked(services):
    enterprise, _ = services
    user = FakeIdentity.add()
    FakeIdentity.asked.clear()
    assert raises_code(enterprise.associate, user, "913300007458363393", "user") == e.VALIDATION_ERROR
    assert FakeIdentity.asked == []
    assert raises_code(enterprise.associate, user, new_uscc(), "user") == e.ENTERPRISE_NOT_REGISTERED
    assert FakeIdentity.asked == [user]

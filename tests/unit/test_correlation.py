"""The request id's way from the gateway into stored events and the envelopes made of them
(services/common/context.py, correlation.py, gateway/http.py), on the in-memory store."""
import uuid

import pytest

from services.common import context
from services.common.correlation import correlation_of, with_correlation
from services.common.operations import read_events
from services.enterprise.application import EnterpriseApplication
from services.enterprise.integration import to_integration
from tests.factories import new_uscc
from gateway.http import request_id

pytestmark = pytest.mark.unit

MANUAL = {"name": "杭州测试贸易有限公司", "address": "浙江省杭州市西湖区文三路1号", "business_scope": "货物进出口"}


@pytest.fixture
def app(monkeypatch):
    monkeypatch.setenv("EVENT_STORE", "memory")
    yield EnterpriseApplication()
    context.leave()


def envelopes_of(app):
    out = []
    for notification in app.recorder.select_notifications(start=1, limit=100):
        domain_event = app.mapper.to_domain_event(notification)
        out += [with_correlation(env, domain_event) for env in to_integration(domain_event)]
    return out


def test_events_saved_in_a_context_carry_its_correlation_id_into_their_envelopes(app):
    context.enter({context.CORRELATION_ID: "req-42"})
    admin = str(uuid.uuid4())
    eid = app.associate(admin, new_uscc(), "admin", **MANUAL)["enterprise_id"]
    context.leave()
    app.associate(str(uuid.uuid4()), new_uscc(), "admin", **MANUAL)  # no request: no correlation
    envelopes = envelopes_of(app)
    mine = [env for env in envelopes if env["payload"].get("enterprise_id") == eid]
    assert {env["event_type"] for env in mine} == {"EnterpriseRegistered", "AssociationApproved"}
    assert {env["correlation_id"] for env in mine} == {"req-42"}
    assert {env["correlation_id"] for env in envelopes if env not in mine} == {None}


def test_the_operators_read_of_the_log_shows_the_correlation_ids_too(app):
    context.enter({context.CORRELATION_ID: "req-44"})
    app.associate(str(uuid.uuid4()), new_uscc(), "admin", **MANUAL)
    context.leave()
    items = read_events(app, to_integration)["items"]
    assert items and {item["correlation_id"] for item in items} == {"req-44"}


def test_aggregates_never_see_the_correlation_id(app):
    context.enter({context.CORRELATION_ID: "req-43"})
    admin = str(uuid.uuid4())
    eid = app.associate(admin, new_uscc(), "admin", **MANUAL)["enterprise_id"]
    # reconstructed from the stored events, which hold the id beside their own state
    assert app.get_enterprise(eid, admin)["admin_user_id"] == admin
    stored = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=1, limit=100)]
    assert {correlation_of(ev) for ev in stored} == {"req-43"}


def test_context_values_are_per_green_thread():
    import eventlet
    seen = {}

    def worker(name):
        context.enter({context.CORRELATION_ID: name})
        eventlet.sleep(0.01)
        seen[name] = context.correlation_id()
        context.leave()

    pool = eventlet.GreenPool()
    for name in ("a", "b", "c"):
        pool.spawn(worker, name)
    pool.waitall()
    assert seen == {"a": "a", "b": "b", "c": "c"} and context.correlation_id() is None


@pytest.mark.parametrize("given", ["abc", "x" * 128, "!~", "0b8f7c3e-5a4d-5d7e-9c43-2f1e6a9b8d10"])
def test_an_acceptable_request_id_is_kept(given):
    assert request_id(given) == given


@pytest.mark.parametrize("given", [None, "", "x" * 129, "has space", "tab\there", "中文", "line\n"])
def test_any_other_request_id_is_replaced_by_a_new_one(given):
    made = request_id(given)
    assert made != given and str(uuid.UUID(made)) == made

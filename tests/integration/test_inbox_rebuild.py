"""`eport rebuild inbox` on each store the inbox runs on (SQLite, PostgreSQL with EVENT_STORE=postgres):
the notify service rebuilds its inbox from a stand-in enterprise's `ops_events`, keeps the read
marks, loses what no upstream has, records on afterwards, and a restart finds the rebuilt inbox."""
import uuid

import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from contracts.authz import PERMISSION_GRANTED
from contracts.enterprise import ASSOCIATION_APPROVED, ASSOCIATION_REQUESTED
from contracts.envelope import make_envelope
from services.notify.domain import message_id_of
from tests.support import own_database, wait_for
from tests.integration.inbox_fakes import (
    RPC_TIMEOUT, RebuiltNotify, UpstreamAuthz, UpstreamEnterprise, UpstreamIdentity, inbox, publish,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, monkeypatch, fresh_var):
    if request.param == "sqlite":
        yield request.param
        return
    with own_database(monkeypatch):  # dropped once the services' containers are gone (their fixture ends first)
        yield request.param


def uid():
    return str(uuid.uuid4())


def requested(admin, user):
    return make_envelope(ASSOCIATION_REQUESTED, aggregate_id=uid(), aggregate_version=1,
                         occurred_at="2026-12-01T08:00:00+00:00", payload={
                             "association_id": uid(), "enterprise_id": uid(), "user_id": user, "role": "user",
                             "admin_user_id": admin, "enterprise_name": "杭州重建测试有限公司", "user_name": "李四"})


def approved(user):
    return make_envelope(ASSOCIATION_APPROVED, aggregate_id=uid(), aggregate_version=2,
                         occurred_at="2026-12-01T08:05:00+00:00", payload={
                             "association_id": uid(), "enterprise_id": uid(), "user_id": user, "role": "user",
                             "enterprise_name": "杭州重建测试有限公司"})


def granted(user, enterprise_id):
    return make_envelope(PERMISSION_GRANTED, aggregate_id=uid(), aggregate_version=3,
                         occurred_at="2026-12-01T08:10:00+00:00", payload={
                             "enterprise_id": enterprise_id, "user_id": user, "system": "manifest",
                             "system_name": "舱单申报"})


def rebuild(notify):
    notify.ops_rebuild("inbox", "start", 1)  # a page of one event: every page boundary crossed
    return wait_for(lambda: (p := notify.ops_rebuild("inbox", "progress"))["state"] != "running" and p,
                    timeout=30, interval=0.1)


def test_the_inbox_is_rebuilt_from_upstream_on_each_store(store, container_factory, config, amqp_uri):
    admin, member, missed, intruder = uid(), uid(), uid(), uid()
    kept, forged, learnt = requested(admin, member), requested(admin, uid()), approved(missed)
    unproven = {**approved(intruder), "signature": {"kid": "not-published", "sig": "AAAA"}}  # in a page: left out
    UpstreamEnterprise.history = [kept, approved(member), learnt, unproven]
    enterprise_id = uid()
    UpstreamEnterprise.names = {enterprise_id: "杭州重建授权有限公司"}
    UpstreamAuthz.history = [granted(missed, enterprise_id)]  # the live inbox never got it either
    container_factory(UpstreamEnterprise, config).start()
    container_factory(UpstreamAuthz, config).start()
    container_factory(UpstreamIdentity, config).start()
    live = container_factory(RebuiltNotify, config)
    live.start()
    with ServiceRpcProxy("notify", config, timeout=RPC_TIMEOUT) as notify:
        publish(amqp_uri, *UpstreamEnterprise.history[:2], forged)  # `learnt` the live inbox never got
        wait_for(lambda: len(inbox(notify, admin)) == 2 and inbox(notify, member), timeout=15)
        request = message_id_of(kept["event_id"], admin)
        notify.mark_read(admin, request)
        member_before = inbox(notify, member)
        assert inbox(notify, missed) == {}

        done = rebuild(notify)
        assert done["state"] == "done", done
        rebuilt = {p: inbox(notify, p) for p in (admin, member, missed)}
        assert len(rebuilt[admin]) == 1 and rebuilt[admin].get(request) == ("association_requested", True)
        assert rebuilt[member] == member_before
        assert sorted(rebuilt[missed].values()) == [("association_approved", False), ("permission_granted", False)]
        [told] = [m for m in notify.list_messages(missed)["items"] if m["kind"] == "permission_granted"]
        assert "“杭州重建授权有限公司”" in told["body"] and "“舱单申报”" in told["body"], told
        assert inbox(notify, intruder) == {}

        later = approved(admin)  # the rebuilt inbox records on
        publish(amqp_uri, later)
        wait_for(lambda: len(inbox(notify, admin)) == 2, timeout=15)
        rebuilt[admin] = inbox(notify, admin)
    live.stop()
    again = container_factory(RebuiltNotify, config)  # a restart finds the rebuilt inbox, not the old one
    again.start()
    with ServiceRpcProxy("notify", config, timeout=RPC_TIMEOUT) as notify:
        assert {p: inbox(notify, p) for p in (admin, member, missed)} == rebuilt

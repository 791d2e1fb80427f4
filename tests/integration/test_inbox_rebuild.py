"""`eport rebuild inbox` on each store the inbox runs on (SQLite, PostgreSQL with EVENT_STORE=postgres):
the notify service rebuilds its inbox from a stand-in enterprise's `ops_events`, keeps the read
marks, loses what no upstream has, records on afterwards, and a restart finds the rebuilt inbox."""
import uuid

import pytest
from kombu import Connection, Producer
from nameko.standalone.rpc import ServiceRpcProxy

from contracts import errors as e
from contracts.authz import PERMISSION_GRANTED
from contracts.enterprise import ASSOCIATION_APPROVED, ASSOCIATION_REQUESTED
from contracts.errors import ServiceError
from contracts.envelope import make_envelope
from contracts.subscriptions import exchange, queue, subscription
from services.common.operations import Operated
from services.common.rpc import rpc
from services.notify.domain import message_id_of
from services.notify.service import InboxEntrypoints
from tests.support import wait_for
from tests.support import signed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
RPC_TIMEOUT = 10  # a service that died answers nothing: the test fails instead of waiting


class RebuiltNotify(InboxEntrypoints, Operated):
    """The notify service's inbox with the operators' RPCs (its SMS half left out)."""
    name = "notify"

    @rpc
    def ping(self):
        return "pong"


class Upstream:
    """A source's `ops_events` over a list of envelopes at positions 1, 2, ..."""
    history = []

    @rpc
    def ops_events(self, after=0, limit=100, event_type=None, until=None):
        end = len(self.history)
        stop = end if until is None else min(until, end)
        items = [dict(envelope if "signature" in envelope else signed(envelope), position=n)
                 for n, envelope in enumerate(self.history, 1) if after < n <= stop]
        items = items[:limit]
        return {"items": items, "next": items[-1]["position"] if items else stop, "end": end}


class UpstreamEnterprise(Upstream):
    name = "enterprise"
    names = {}  # enterprise_id -> name

    @rpc
    def get_enterprise(self, enterprise_id, actor_user_id=None):
        if enterprise_id not in self.names:
            raise ServiceError(e.ENTERPRISE_NOT_FOUND, "No such enterprise.")
        return {"enterprise_id": enterprise_id, "name": self.names[enterprise_id]}


class UpstreamAuthz(Upstream):
    name = "authz"


class UpstreamIdentity(Upstream):
    name = "identity"


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, monkeypatch, fresh_var):
    if request.param == "sqlite":
        yield request.param
        return
    database = f"eport_test_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("EVENT_STORE", "postgres")
    monkeypatch.setenv("EVENT_STORE_URL", f"postgresql+psycopg2://postgres@localhost:5432/{database}")
    yield request.param
    import psycopg2  # the services' containers are gone by now (their fixture ended first)

    db = psycopg2.connect("postgresql://postgres@localhost:5432/postgres")
    try:
        db.autocommit = True
        with db.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    finally:
        db.close()


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


def publish(amqp_uri, *envelopes, source="enterprise"):
    """To notify's queue alone: the live inbox gets them, the upstream's history need not have them."""
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        queue(subscription("notify", source))(channel).declare()
        producer = Producer(channel, exchange=exchange(source), serializer="json")
        for envelope in envelopes:
            producer.publish(signed(envelope), routing_key=envelope["event_type"], delivery_mode=2,
                             message_id=envelope["event_id"])


def inbox(notify, user_id):
    return {m["message_id"]: (m["kind"], m["read"]) for m in notify.list_messages(user_id)["items"]}


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

"""Permission messages (消息提醒) from authz's events on real RabbitMQ: the member granted or refused a
business system is told, once per event however often it comes, with the enterprise's and the
system's names, and nobody else is told anything."""
import uuid

import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from contracts.authz import PERMISSION_GRANTED, PERMISSION_REVOKED
from contracts.envelope import make_envelope
from tests.support import own_vhost, wait_for

from tests.integration.inbox_fakes import RPC_TIMEOUT, RebuiltNotify, UpstreamEnterprise, inbox, publish

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def amqp_uri():
    # a vhost of its own: its stand-in enterprise's durable rpc-enterprise queue would otherwise outlive
    # the module and take later modules' calls (test_enterprise_gateway's /me answered 503)
    with own_vhost("eport-permission-messages") as uri:
        yield uri


@pytest.fixture
def config(amqp_uri):
    return {"AMQP_URI": amqp_uri, "serializer": "json", "max_workers": 20, "WEB_SERVER_ADDRESS": "127.0.0.1:0"}


def permission(event_type, user_id, enterprise_id, **extra):
    return make_envelope(event_type, aggregate_id=uuid.uuid4(), aggregate_version=2,
                         occurred_at="2026-12-07T08:00:00+00:00", payload={
                             "enterprise_id": enterprise_id, "user_id": user_id, "system": "manifest",
                             "system_name": "舱单申报", **extra})


def publish_authz(amqp_uri, *envelopes):
    publish(amqp_uri, *envelopes, source="authz")


def test_a_grant_and_a_revocation_are_told_to_the_member_once_with_the_names(container_factory, config, amqp_uri,
                                                                            fresh_var):
    member, bystander, enterprise_id = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    UpstreamEnterprise.names = {enterprise_id: "宁波授权消息有限公司"}
    container_factory(UpstreamEnterprise, config).start()
    container_factory(RebuiltNotify, config).start()
    grant = permission(PERMISSION_GRANTED, member, enterprise_id)
    revoke = permission(PERMISSION_REVOKED, member, enterprise_id, reason="revoked")
    gone = permission(PERMISSION_REVOKED, member, str(uuid.uuid4()), reason="membership_ended")  # no such enterprise
    with ServiceRpcProxy("notify", config, timeout=RPC_TIMEOUT) as notify:
        publish_authz(amqp_uri, grant, grant, revoke, grant, gone)  # redelivered, as at-least-once may
        wait_for(lambda: len(inbox(notify, member)) == 3, timeout=15)
        items = notify.list_messages(member)["items"]
        assert sorted(m["kind"] for m in items) == ["permission_granted", "permission_revoked", "permission_revoked"]
        told = {m["data"]["enterprise_id"]: m for m in items if m["kind"] == "permission_revoked"}
        [granted] = [m for m in items if m["kind"] == "permission_granted"]
        for message in (granted, told[enterprise_id]):
            assert "“宁波授权消息有限公司”" in message["body"] and "“舱单申报”" in message["body"], message
            assert message["data"]["system"] == "manifest" and message["data"]["system_name"] == "舱单申报"
        assert "企业管理员已撤销" in told[enterprise_id]["body"]
        assert "该企业" in told[gone["payload"]["enterprise_id"]]["body"]  # its name unknown: said plainly
        assert "关联已结束" in told[gone["payload"]["enterprise_id"]]["body"]
        later = permission(PERMISSION_GRANTED, member, enterprise_id, system="transport", system_name="运输工具申报")
        publish_authz(amqp_uri, grant, later)  # once more after it was stored, then a new one
        wait_for(lambda: len(inbox(notify, member)) >= 4, timeout=15)
        kinds = sorted(m["data"]["system"] for m in notify.list_messages(member)["items"]
                       if m["kind"] == "permission_granted")
        assert kinds == ["manifest", "transport"]
        assert inbox(notify, bystander) == {}

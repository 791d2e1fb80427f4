"""`eport rebuild inbox` with two notify instances on one PostgreSQL store (issue 25, item 2): the
tool's questions reach either instance, and both answer the one rebuild (services/common/postgres.py
RebuildBoard): a second `start` meanwhile starts none, no answer says "idle" once it started, and
the rebuilt inbox holds each message once."""
import uuid

import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from contracts.enterprise import ASSOCIATION_REQUESTED
from contracts.envelope import make_envelope
from tests.integration.inbox_fakes import (
    RPC_TIMEOUT, RebuiltNotify, UpstreamAuthz, UpstreamEnterprise, UpstreamIdentity, inbox,
)
from tests.support import own_database, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
EVENTS = 40  # asked one a page: the rebuild lasts while the tool asks


@pytest.fixture
def postgres(monkeypatch, fresh_var):
    with own_database(monkeypatch):
        yield


def requested(admin):
    return make_envelope(ASSOCIATION_REQUESTED, aggregate_id=str(uuid.uuid4()), aggregate_version=1,
                         occurred_at="2026-12-01T08:00:00+00:00", payload={
                             "association_id": str(uuid.uuid4()), "enterprise_id": str(uuid.uuid4()),
                             "user_id": str(uuid.uuid4()), "role": "user", "admin_user_id": admin,
                             "enterprise_name": "杭州两实例有限公司", "user_name": "李四"})


def test_both_instances_answer_the_one_rebuild_that_runs(postgres, container_factory, config):
    admin = str(uuid.uuid4())
    UpstreamEnterprise.history = [requested(admin) for _ in range(EVENTS)]
    UpstreamAuthz.history, UpstreamIdentity.history = [], []
    for upstream in (UpstreamEnterprise, UpstreamAuthz, UpstreamIdentity):
        container_factory(upstream, config).start()
    for _ in range(2):
        container_factory(RebuiltNotify, config).start()
    with ServiceRpcProxy("notify", config, timeout=RPC_TIMEOUT) as notify:
        answers = [notify.ops_rebuild("inbox", "start", 1)]
        answers.append(notify.ops_rebuild("inbox", "start", 1))  # the other instance, most likely: none more
        while answers[-1]["state"] == "running":
            answers.append(notify.ops_rebuild("inbox", "progress"))
        states = [a["state"] for a in answers]
        assert states[-1] == "done" and set(states) == {"running", "done"}, states
        assert answers[-1]["applied"] == EVENTS, answers[-1]  # one rebuild's count, not two
        assert notify.ops_rebuild("inbox", "progress")["state"] == "done"  # and the other instance says so too
        assert notify.ops_rebuild("inbox", "progress")["state"] == "done"
        wait_for(lambda: len(inbox(notify, admin)) == EVENTS, timeout=15)

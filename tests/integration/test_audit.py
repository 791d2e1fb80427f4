"""The audit service against the real RabbitMQ: records every event once, answers its admin only."""
import functools
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import eventlet
import pytest
from nameko.testing.services import entrypoint_hook

from contracts import asyncapi
from contracts.envelope import REGISTRY, make_envelope
from contracts.errors import ServiceError
from services.audit.service import AuditService
from tests.eport_cli import EPORT
from tests.support import signing_publisher
from tests.integration.audit_fakes import ADMIN, ENTERPRISE, MEMBER, UNCERTIFIED_ADMIN, FakeEnterprise, approved

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
asyncapi.load_all_event_modules()


@pytest.fixture
def audit(runner_factory, config, fresh_var):
    runner = runner_factory(config, AuditService, FakeEnterprise)
    runner.start()
    return runner.service_map["audit"]


def wait_count(container, n, timeout=10):
    with eventlet.Timeout(timeout):
        while True:
            with entrypoint_hook(container, "enterprise_events") as query:
                items = query(ADMIN, ENTERPRISE, limit=200)["items"]
            if len(items) >= n:
                return items
            eventlet.sleep(0.05)


def test_events_are_recorded_once_and_listed_newest_first(audit, amqp_uri):
    publisher = signing_publisher(amqp_uri, "enterprise")
    first = approved(MEMBER, 1, "2026-11-01T08:00:00+00:00")
    second = approved(MEMBER, 2, "2026-11-02T08:00:00+00:00")
    for env in (first, second, first, second):  # redelivered
        publisher.publish(env)
    items = wait_count(audit, 2)
    eventlet.sleep(0.5)
    items = wait_count(audit, 2)
    assert [i["event_id"] for i in items] == [second["event_id"], first["event_id"]]
    assert items[0]["subject"] == MEMBER and items[0]["actor_user_id"] == ADMIN
    with entrypoint_hook(audit, "enterprise_events") as query:
        assert len(query(ADMIN, ENTERPRISE, since="2026-11-02T00:00:00+00:00")["items"]) == 1
        assert query(ADMIN, ENTERPRISE, event_type="AdminTransferred")["items"] == []
        assert len(query(ADMIN, ENTERPRISE, user_id=MEMBER, limit=1)["items"]) == 1


def test_only_the_administrator_reads_the_trail(audit):
    with entrypoint_hook(audit, "enterprise_events") as query:
        for actor in (MEMBER, str(uuid.uuid4())):
            with pytest.raises(ServiceError) as err:
                query(actor, ENTERPRISE)
            assert err.value.code == "FORBIDDEN"
        with pytest.raises(ServiceError) as err:  # an administrator whose role is not certified (角色认证)
            query(UNCERTIFIED_ADMIN, ENTERPRISE)
        assert err.value.code == "ROLE_NOT_CERTIFIED" and "法人卡" in err.value.message


@pytest.mark.parametrize("field,value", [("since", "yesterday"), ("until", "2026-11-01T00:00:00"), ("limit", 0)])
def test_bad_query_names_the_field(audit, field, value):
    with entrypoint_hook(audit, "enterprise_events") as query:
        with pytest.raises(ServiceError) as err:
            query(ADMIN, ENTERPRISE, **{field: value})
    assert err.value.code == "VALIDATION_ERROR" and field in err.value.details


VERSIONS = iter(range(1, 10**6))  # each event of a user its own version, hence its own event_id


def identity_event(kind, user_id, when, **payload):
    return make_envelope(REGISTRY[("identity", kind)], aggregate_id=user_id, aggregate_version=next(VERSIONS),
                         occurred_at=when, actor_user_id=user_id, payload={"user_id": user_id, **payload})


def removed(user_id, when):
    return make_envelope(REGISTRY[("enterprise", "MemberRemoved")], aggregate_id=str(uuid.uuid4()),
                         aggregate_version=3, occurred_at=when, actor_user_id=ADMIN,
                         payload={"association_id": "x", "enterprise_id": ENTERPRISE, "user_id": user_id,
                                  "role": "user"})


def login(user_id, when):
    return identity_event("UserLoggedIn", user_id, when, method="password", session_id=str(uuid.uuid4()))


def test_the_trail_shows_members_account_events_only_while_they_were_members(audit, amqp_uri):
    identity, enterprise = signing_publisher(amqp_uri, "identity"), signing_publisher(amqp_uri, "enterprise")
    outsider = str(uuid.uuid4())
    before = login(MEMBER, "2026-11-01T07:00:00+00:00")  # not yet a member
    joined = approved(MEMBER, 1, "2026-11-01T08:00:00+00:00")
    during = [login(MEMBER, "2026-11-01T09:00:00+00:00"),
              identity_event("LoginFailed", MEMBER, "2026-11-01T10:00:00+00:00", method="password",
                             consecutive_failures=1)]
    left = removed(MEMBER, "2026-11-01T11:00:00+00:00")
    after = login(MEMBER, "2026-11-01T12:00:00+00:00")
    elsewhere = login(outsider, "2026-11-01T09:30:00+00:00")
    # Enterprise and identity events arrive on different queues, in any order between the two.
    for env in (before, *during, after, elsewhere):
        identity.publish(env)
    for env in (joined, left, joined):  # the approval redelivered after the removal
        enterprise.publish(env)
    items = wait_count(audit, 4)
    eventlet.sleep(0.5)  # give a wrong extra item the chance to show up
    items = wait_count(audit, 4)
    assert [i["event_id"] for i in items] == [left["event_id"], during[1]["event_id"], during[0]["event_id"],
                                              joined["event_id"]]
    with entrypoint_hook(audit, "enterprise_events") as query:
        logins = query(ADMIN, ENTERPRISE, event_type="UserLoggedIn")["items"]
        assert [i["event_id"] for i in logins] == [during[0]["event_id"]]
        assert query(ADMIN, ENTERPRISE, user_id=outsider)["items"] == []


def test_a_member_who_rejoins_is_followed_again(audit, amqp_uri):
    identity, enterprise = signing_publisher(amqp_uri, "identity"), signing_publisher(amqp_uri, "enterprise")
    first, gone = approved(MEMBER, 1, "2026-11-01T08:00:00+00:00"), removed(MEMBER, "2026-11-02T08:00:00+00:00")
    back = approved(MEMBER, 4, "2026-11-03T08:00:00+00:00")
    away, again = login(MEMBER, "2026-11-02T12:00:00+00:00"), login(MEMBER, "2026-11-03T12:00:00+00:00")
    for env in (first, gone, back, gone):  # the old removal redelivered must not end the new membership
        enterprise.publish(env)
    for env in (away, again):
        identity.publish(env)
    items = wait_count(audit, 4)
    eventlet.sleep(0.5)
    with entrypoint_hook(audit, "enterprise_events") as query:
        items = query(ADMIN, ENTERPRISE, limit=200)["items"]
    assert [i["event_id"] for i in items] == [again["event_id"], back["event_id"], gone["event_id"],
                                              first["event_id"]]


OTHER_ENTERPRISE = str(uuid.uuid4())


def test_operators_query_the_whole_log_and_the_cli_prints_it(audit, amqp_uri):
    enterprise = signing_publisher(amqp_uri, "enterprise")
    ours = approved(MEMBER, 1, "2026-11-01T08:00:00+00:00")
    theirs = make_envelope(REGISTRY[("enterprise", "AssociationApproved")], aggregate_id=str(uuid.uuid4()),
                           aggregate_version=1, occurred_at="2026-11-02T08:00:00+00:00", actor_user_id=ADMIN,
                           payload={"association_id": "y", "enterprise_id": OTHER_ENTERPRISE, "user_id": ADMIN,
                                    "role": "admin"})
    for env in (ours, theirs):
        enterprise.publish(env)
    with eventlet.Timeout(10):
        while True:
            with entrypoint_hook(audit, "events") as events:
                items = events(limit=500)["items"]
            if len(items) >= 2:
                break
            eventlet.sleep(0.05)
    assert [i["event_id"] for i in items] == [theirs["event_id"], ours["event_id"]]  # across enterprises
    with entrypoint_hook(audit, "events") as events:
        assert [i["event_id"] for i in events(enterprise_id=OTHER_ENTERPRISE)["items"]] == [theirs["event_id"]]
        assert [i["event_id"] for i in events(user_id=MEMBER)["items"]] == [ours["event_id"]]
        for bad in ({"limit": 0}, {"limit": True}, {"since": "2026-11-01"}, {"user_id": 5}, {"enterprise_id": ["x"]}):
            with pytest.raises(ServiceError) as err:
                events(**bad)
            assert err.value.code == "VALIDATION_ERROR" and set(err.value.details) == set(bad)

    # The operators' command line asks the same RPC over the broker (and its old name still works).
    env = dict(os.environ, AMQP_URI=amqp_uri)
    run = functools.partial(subprocess.run, capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    done = run([sys.executable, "-m", "deploy.audit", "--json", "--user", MEMBER])
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["event_id"] for line in lines] == [ours["event_id"]]
    assert done.stderr == ""
    done = run([str(EPORT), "audit", "--enterprise", OTHER_ENTERPRISE])
    assert done.returncode == 0 and "enterprise.AssociationApproved" in done.stdout and ADMIN in done.stdout
    done = run([str(EPORT), "audit", "--since", "yesterday"])
    assert done.returncode == 2 and "VALIDATION_ERROR" in done.stderr and "since" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_removal_that_came_before_its_approval_still_ends_the_membership(audit, amqp_uri):
    """An approval that failed and came back after the removal (a consumer puts a failed message
    back at the end of its queue): the former member's later logins stay out of the trail."""
    identity, enterprise = signing_publisher(amqp_uri, "identity"), signing_publisher(amqp_uri, "enterprise")
    joined, left = approved(MEMBER, 1, "2026-11-05T08:00:00+00:00"), removed(MEMBER, "2026-11-05T11:00:00+00:00")
    during, after = login(MEMBER, "2026-11-05T09:00:00+00:00"), login(MEMBER, "2026-11-05T12:00:00+00:00")
    enterprise.publish(left)
    wait_count(audit, 1)
    enterprise.publish(joined)
    for env in (during, after):
        identity.publish(env)
    wait_count(audit, 3)
    eventlet.sleep(0.5)  # give a wrong extra item the chance to show up
    with entrypoint_hook(audit, "enterprise_events") as query:
        logins = query(ADMIN, ENTERPRISE, event_type="UserLoggedIn")["items"]
    assert [i["event_id"] for i in logins] == [during["event_id"]]


def test_the_trail_comes_a_page_at_a_time_each_event_once_in_order(audit, amqp_uri):
    """Keyset pages on the log's order (occurred_at, then the order recorded): events recorded while
    the administrator pages appear once, where their time puts them; a cursor serves its own trail only."""
    from contracts.pages import make_cursor, scope_tag
    publisher = signing_publisher(amqp_uri, "enterprise")
    same_time = [approved(MEMBER, n + 1, "2026-11-05T08:00:00+00:00") for n in range(60)]  # ties: the log's order
    spread = [approved(MEMBER, n + 1, f"2026-11-0{1 + n % 4}T09:{n % 60:02d}:00+00:00") for n in range(60)]
    for env in same_time + spread:
        publisher.publish(env)
    everything = wait_count(audit, 120)
    pages, cursor, newer, older = [], None, approved(MEMBER, 1, "2026-12-01T00:00:00+00:00"), None
    with entrypoint_hook(audit, "enterprise_events") as query:
        while True:
            page = query(ADMIN, ENTERPRISE, limit=50, cursor=cursor)
            pages.append(page["items"])
            if len(pages) == 1:  # recorded meanwhile: one newer than the first page, one older than all
                older = approved(MEMBER, 2, "2026-10-01T00:00:00+00:00")
                publisher.publish(newer), publisher.publish(older)
                wait_count(audit, 122)
            if (cursor := page["next_cursor"]) is None:
                break
        got = [i["event_id"] for p in pages for i in p]
        assert [len(p) for p in pages] == [50, 50, 21]
        assert got == [i["event_id"] for i in everything] + [older["event_id"]]
        assert newer["event_id"] not in got
        for bad in (make_cursor(scope_tag("audit-events", str(uuid.uuid4())), ("2026-11-05", "1")),
                    make_cursor(scope_tag("audit-events", ENTERPRISE), ("2026-11-05", "x")), "%%%"):
            with pytest.raises(ServiceError) as err:
                query(ADMIN, ENTERPRISE, cursor=bad)
            assert err.value.code == "VALIDATION_ERROR" and "cursor" in err.value.details
        for limit in (0, 201, "x"):
            with pytest.raises(ServiceError) as err:
                query(ADMIN, ENTERPRISE, limit=limit)
            assert err.value.code == "VALIDATION_ERROR" and "limit" in err.value.details

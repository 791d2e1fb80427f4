"""Two gateway instances, each keeping copies of authz's check answers (gateway/check_answers.py),
one real authz: a change of grants made through one instance is what the very next check says,
through either, the instant the PUT returns; the revoke first of all. L is long here (1 s), so a
copy taken just before a change would still be in force after it, were it not for the fence."""
import uuid

import pytest
from nameko.runners import ServiceRunner

from gateway.service import GatewayService

from .authz_support import (AuthzService, StubIdentityService, app_of, enterprise_story, free_port,
                            publish_enterprise_events, wait_for)
from tests.support import Http

pytestmark = pytest.mark.integration

ADMIN, MEMBER = (str(uuid.uuid4()) for _ in range(2))
L = 1.0


@pytest.fixture(scope="module")
def gateways(authz_amqp_uri, tmp_path_factory):
    """(gateway A, gateway B, authz's application)"""
    runners = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EPORT_VAR", str(tmp_path_factory.mktemp("check-answers-var")))
        mp.setenv("GATEWAY_CHECK_ANSWER_SECONDS", str(L))
        addresses = [f"127.0.0.1:{free_port()}" for _ in range(2)]
        services = [(AuthzService, StubIdentityService, GatewayService), (GatewayService,)]
        try:
            for address, classes in zip(addresses, services, strict=True):
                runner = ServiceRunner({"AMQP_URI": authz_amqp_uri, "serializer": "json", "max_workers": 20,
                                        "WEB_SERVER_ADDRESS": address})
                for cls in classes:
                    runner.add_service(cls)
                runner.start()
                runners.append(runner)
            app = app_of(next(c for c in runners[0].containers if c.service_name == "authz"))
            yield (*[Http(f"http://{a}", timeout=10) for a in addresses], app)
        finally:
            for runner in runners:
                runner.kill()


@pytest.fixture
def eid(gateways, authz_amqp_uri):
    eid = str(uuid.uuid4())
    publish_enterprise_events(authz_amqp_uri, enterprise_story(eid, ADMIN, MEMBER)[:4])
    app = gateways[2]
    wait_for(lambda: app.projection.get(eid) is not None and app.projection.get(eid).is_member(MEMBER)
             and app.projection.get(eid).is_certified_admin(ADMIN), what="authz to learn the enterprise")
    return eid


def allowed(gateway, eid, who=MEMBER):
    r = gateway("GET", "/api/v1/authz/check", who, params={"user_id": MEMBER, "enterprise_id": eid,
                                                           "system": "manifest"})
    assert r.status_code == 200, r.text
    return r.json()["allowed"]


def put(gateway, eid, systems):
    r = gateway("PUT", f"/api/v1/enterprises/{eid}/members/{MEMBER}/permissions", ADMIN, json={"systems": systems})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("writer", ["A", "B"])
def test_a_revoke_is_refused_by_both_instances_the_moment_it_returns(gateways, eid, writer):
    a, b, _ = gateways
    through = a if writer == "A" else b
    put(through, eid, ["manifest"])
    assert allowed(a, eid) is True and allowed(b, eid) is True  # both now hold a copy saying so
    assert allowed(a, eid, ADMIN) is True and allowed(b, eid, ADMIN) is True  # and the administrator's
    put(through, eid, [])
    assert allowed(b, eid) is False and allowed(a, eid) is False
    assert allowed(a, eid, ADMIN) is False and allowed(b, eid, ADMIN) is False


def test_a_grant_is_allowed_by_both_instances_the_moment_it_returns(gateways, eid):
    a, b, _ = gateways
    put(a, eid, [])
    for _ in range(3):
        assert allowed(a, eid) is False and allowed(b, eid) is False  # copies saying no, both sides
        put(a, eid, ["manifest"])
        assert allowed(b, eid) is True and allowed(a, eid) is True
        put(b, eid, [])
        assert allowed(a, eid) is False and allowed(b, eid) is False


def test_an_answer_is_repeated_within_L_only(gateways, eid):
    """The copy is used (else the test above proves nothing about it): authz's answer changed
    behind the gateway's back (its projection, directly) is not seen for L, then is."""
    a, _, app = gateways
    put(a, eid, ["manifest"])
    assert allowed(a, eid) is True
    access = app.projection.get(eid)
    saved = dict(access.grants)
    access.grants[MEMBER] = set()
    try:
        assert allowed(a, eid) is True  # the copy
        wait_for(lambda: allowed(a, eid) is False, timeout=L * 3, what="the copy to expire")
    finally:
        access.grants.clear()
        access.grants.update(saved)

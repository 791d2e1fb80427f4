"""The permission endpoints of shared/API.md over HTTP: the real gateway and authz in-process, a
stand-in identity (tokens signed by tests/tokens.py), enterprise events put on the bus."""
import uuid

import pytest
from nameko.runners import ServiceRunner

from gateway.service import GatewayService
from services.authz.catalogue import catalogue

from .authz_support import (AuthzService, StubIdentityService, app_of,
                                 enterprise_story, free_port, publish_enterprise_events, wait_for)
from tests.support import Http, http_error

pytestmark = pytest.mark.integration

ADMIN, MEMBER, OTHER, OUTSIDER = (str(uuid.uuid4()) for _ in range(4))


@pytest.fixture(scope="module")
def http(authz_amqp_uri, tmp_path_factory):
    """One set of services for the module (each test makes its own enterprise)."""
    config = {"AMQP_URI": authz_amqp_uri, "serializer": "json", "max_workers": 20,
              "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EPORT_VAR", str(tmp_path_factory.mktemp("authz-gateway-var")))
        runner = ServiceRunner(config)
        for cls in (AuthzService, StubIdentityService, GatewayService):
            runner.add_service(cls)
        runner.start()
        try:
            h = Http(f"http://{config['WEB_SERVER_ADDRESS']}", timeout=10)
            h.app = app_of(next(c for c in runner.containers if c.service_name == "authz"))
            h.amqp_uri = authz_amqp_uri
            yield h
        finally:
            runner.kill()


@pytest.fixture
def eid(http):
    """An enterprise of ADMIN with approved members MEMBER and OTHER (OUTSIDER is not one)."""
    eid = str(uuid.uuid4())
    story = enterprise_story(eid, ADMIN, MEMBER)[:4]
    other = dict(story[3], event_id=str(uuid.uuid4()), aggregate_version=5,
                 payload=dict(story[3]["payload"], association_id="assoc-o", user_id=OTHER))
    publish_enterprise_events(http.amqp_uri, story + [other])
    wait_for(lambda: http.app.projection.get(eid) is not None and http.app.projection.get(eid).is_member(OTHER)
             and http.app.projection.get(eid).is_certified_admin(ADMIN), what="authz to learn the enterprise")
    return eid


def perms(eid, user):
    return f"/api/v1/enterprises/{eid}/members/{user}/permissions"


def check(http, who, user, eid, system):
    return http("GET", "/api/v1/authz/check", who,
                params={"user_id": user, "enterprise_id": eid, "system": system})


def test_systems_catalogue(http):
    r = http("GET", "/api/v1/systems")
    assert r.status_code == 200
    items = r.json()["items"]
    assert [i["code"] for i in items] == list(catalogue().codes)
    assert {"code": "manifest", "name": "舱单申报"}.items() <= items[1].items()


def test_manual_story_over_http(http, eid):
    assert check(http, MEMBER, MEMBER, eid, "cargo_declaration").json() == {"allowed": False}
    r = http("PUT", perms(eid, MEMBER), ADMIN, json={"systems": ["cargo_declaration"]})
    assert r.status_code == 200 and r.json()["systems"] == ["cargo_declaration"]
    assert check(http, MEMBER, MEMBER, eid, "cargo_declaration").json() == {"allowed": True}
    assert http("GET", perms(eid, MEMBER), MEMBER).json()["systems"] == ["cargo_declaration"]
    r = http("PUT", perms(eid, MEMBER), ADMIN, json={"systems": []})
    assert r.status_code == 200 and r.json()["systems"] == []
    assert check(http, MEMBER, MEMBER, eid, "cargo_declaration").json() == {"allowed": False}


@pytest.mark.parametrize("who, status", [(ADMIN, 200), (MEMBER, 200), (OTHER, 403), (OUTSIDER, 403), (None, 401)])
def test_get_permissions_authorisation(http, eid, who, status):
    r = http("GET", perms(eid, MEMBER), who)
    assert r.status_code == status, r.text
    if status == 403:
        assert http_error(r)["code"] == "FORBIDDEN"


@pytest.mark.parametrize("who, status", [(ADMIN, 200), (MEMBER, 403), (OTHER, 403), (OUTSIDER, 403), (None, 401)])
def test_put_permissions_authorisation(http, eid, who, status):
    r = http("PUT", perms(eid, MEMBER), who, json={"systems": ["manifest"]})
    assert r.status_code == status, r.text
    expected = status == 200
    assert check(http, ADMIN, MEMBER, eid, "manifest").json() == {"allowed": expected}


@pytest.mark.parametrize("who, user, status", [
    (MEMBER, MEMBER, 200), (ADMIN, MEMBER, 200), (ADMIN, ADMIN, 200), (OTHER, MEMBER, 403),
    (OUTSIDER, MEMBER, 403), (MEMBER, ADMIN, 403), (OUTSIDER, OUTSIDER, 200), (None, MEMBER, 401)])
def test_check_authorisation(http, eid, who, user, status):
    r = check(http, who, user, eid, "manifest")
    assert r.status_code == status, r.text
    if status == 200:
        assert r.json() == {"allowed": user == ADMIN}


def test_put_unknown_system_is_400_naming_systems(http, eid):
    r = http("PUT", perms(eid, MEMBER), ADMIN, json={"systems": ["manifest", "teleportation"]})
    assert r.status_code == 400
    assert http_error(r)["code"] == "UNKNOWN_SYSTEM"
    assert "systems" in http_error(r)["details"]
    assert check(http, ADMIN, MEMBER, eid, "manifest").json() == {"allowed": False}


@pytest.mark.parametrize("body", [{}, {"systems": "manifest"}, {"systems": [1, 2]}, {"systems": [""]}, None])
def test_put_malformed_body_is_400_validation_error(http, eid, body):
    kw = {"data": b"{not json"} if body is None else {"json": body}
    r = http("PUT", perms(eid, MEMBER), ADMIN, **kw)
    assert r.status_code == 400
    assert http_error(r)["code"] == "VALIDATION_ERROR"


def test_put_to_non_member_is_409(http, eid):
    r = http("PUT", perms(eid, OUTSIDER), ADMIN, json={"systems": ["manifest"]})
    assert r.status_code == 409
    assert http_error(r)["code"] == "NOT_A_MEMBER"


def test_check_needs_its_parameters_and_a_known_system(http, eid):
    r = http("GET", "/api/v1/authz/check", MEMBER, params={"user_id": MEMBER, "enterprise_id": eid})
    assert r.status_code == 400 and "system" in http_error(r)["details"]
    r = check(http, MEMBER, MEMBER, eid, "teleportation")
    assert r.status_code == 400 and http_error(r)["code"] == "UNKNOWN_SYSTEM"


def test_after_transfer_the_former_admin_is_refused(http, eid):
    http("PUT", perms(eid, ADMIN), ADMIN, json={"systems": ["manifest"]})
    story = enterprise_story(eid, ADMIN, MEMBER)
    publish_enterprise_events(http.amqp_uri, story[4:6])  # AdminTransferred ADMIN -> MEMBER, RoleCertified
    wait_for(lambda: http.app.projection.get(eid).is_certified_admin(MEMBER), what="the transfer")
    assert http("PUT", perms(eid, OTHER), ADMIN, json={"systems": ["manifest"]}).status_code == 403
    assert check(http, ADMIN, ADMIN, eid, "manifest").json() == {"allowed": True}
    assert check(http, ADMIN, ADMIN, eid, "processing_trade").json() == {"allowed": False}
    assert http("GET", perms(eid, ADMIN), ADMIN).json()["systems"] == ["manifest"]
    r = http("PUT", perms(eid, OTHER), MEMBER, json={"systems": ["processing_trade"]})
    assert r.status_code == 200
    assert check(http, MEMBER, OTHER, eid, "processing_trade").json() == {"allowed": True}

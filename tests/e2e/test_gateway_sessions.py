"""Logout is refused by every gateway instance: each checks tokens itself and hears SessionRevoked,
and one that lost its broker connection meanwhile loads what it missed when it is back."""
import os
import shutil
import signal
import subprocess
from contextlib import contextmanager

import pytest
import requests

from deploy.launch import Platform
from tests.e2e.conftest import Api
from tests.e2e.enterprise_people import PASSWORD, register, wait_for
from tests.sms import latest_code
from tests.support import free_port, http_error

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@contextmanager
def second_gateway(platform):
    """Another gateway instance beside the platform's, on its own port: an Api to it."""
    env = dict(platform.env, GATEWAY_PORT=str(free_port()))
    second = Platform(env=env, only=["gateway"], quiet=True, broker_uris=platform.broker_uris)
    second.env["EPORT_SERVICES"] = platform.env["EPORT_SERVICES"]
    try:
        second.start_one("gateway")
        wait_for(lambda: _up(second.base_url))
        api = Api(second.base_url)
        api.pid = second.procs["gateway"].pid
        yield api
    finally:
        second.stop()


def _rabbitmqctl(*args):
    return subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=True).stdout


def _local_ports(pid):
    """The local TCP ports of process `pid`'s sockets (/proc: its socket inodes in its net tables)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        target = os.readlink(f"/proc/{pid}/fd/{fd}")
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in open(f"/proc/{pid}/net/{table}").read().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _connections_of(pid, vhost):
    """The broker's ids of the connections process `pid` holds to `vhost`."""
    ports = _local_ports(pid)
    rows = [row.split("\t") for row in
            _rabbitmqctl("list_connections", "--no-table-headers", "pid", "peer_port", "vhost").splitlines()]
    return [row[0] for row in rows if row[2] == vhost and int(row[1]) in ports]


@pytest.mark.skipif(not shutil.which("rabbitmqctl"), reason="drops connections with rabbitmqctl")
def test_a_gateway_that_lost_its_broker_connection_refuses_a_logout_made_meanwhile(api, platform):
    person = register(api)
    with second_gateway(platform) as other:
        assert other.get("/api/v1/me", token=person.token).status_code == 200  # it has loaded its state
        mine = _connections_of(other.pid, platform.vhost)
        assert mine
        os.kill(other.pid, signal.SIGSTOP)  # it cannot reconnect before the logout below
        try:
            for pid in mine:  # its queues of SessionRevoked go with its connections
                _rabbitmqctl("close_connection", pid, "test: connection lost")
            assert api.delete("/api/v1/sessions/current", token=person.token).status_code == 204
            assert api.get("/api/v1/me", token=person.token).status_code == 401
        finally:
            os.kill(other.pid, signal.SIGCONT)

        def status(token):
            try:
                return other.get("/api/v1/me", token=token).status_code
            except requests.ConnectionError:  # a request that meets its dead connections may be dropped
                return None

        wait_for(lambda: status(person.token) == 401, timeout=20)
        someone = register(api)
        wait_for(lambda: status(someone.token) == 200, timeout=20)  # it is back: the 401 is the logout's


def test_a_logout_through_one_gateway_is_refused_by_another(api, platform):
    before = register(api)  # logged out before the second gateway starts: learnt from identity
    assert api.delete("/api/v1/sessions/current", token=before.token).status_code == 204
    with second_gateway(platform) as other:
        assert other.get("/api/v1/me", token=before.token).status_code == 401

        person = register(api)
        assert other.get("/api/v1/me", token=person.token).status_code == 200
        assert api.delete("/api/v1/sessions/current", token=person.token).status_code == 204
        assert api.get("/api/v1/me", token=person.token).status_code == 401  # at once where it happened
        wait_for(lambda: other.get("/api/v1/me", token=person.token).status_code == 401, timeout=5)


def test_a_password_reset_ends_every_earlier_session_at_every_gateway(api, platform):
    person = register(api)
    second_token = api.post("/api/v1/sessions", json={"method": "password", "account": person.mobile,
                                                      "password": PASSWORD}).json()["access_token"]
    assert api.get("/api/v1/me", token=second_token).status_code == 200  # the gateway has loaded its state
    # no waiting for the next second: a token issued in the second of the reset, before it, ends with it
    assert api.post("/api/v1/sms-codes", json={"mobile": person.mobile, "purpose": "reset_password"}).status_code == 202
    r = api.post("/api/v1/password-resets", json={"mobile": person.mobile, "new_password": "a brand new passphrase",
                                                  "sms_code": latest_code(person.mobile, "reset_password")})
    assert r.status_code == 204, r.text
    for token in (person.token, second_token):  # heard as a PasswordSet event by this gateway
        wait_for(lambda token=token: api.get("/api/v1/me", token=token).status_code == 401, timeout=5)
    fresh = api.post("/api/v1/sessions", json={"method": "password", "account": person.mobile,
                                               "password": "a brand new passphrase"})
    assert fresh.status_code == 201
    assert api.get("/api/v1/me", token=fresh.json()["access_token"]).status_code == 200

    # a gateway started afterwards learns it from identity
    with second_gateway(platform) as other:
        assert other.get("/api/v1/me", token=person.token).status_code == 401
        assert other.get("/api/v1/me", token=fresh.json()["access_token"]).status_code == 200


def test_a_password_change_can_end_every_other_session_at_every_gateway(api, platform):
    person = register(api)
    other = api.post("/api/v1/sessions", json={"method": "password", "account": person.mobile,
                                               "password": PASSWORD}).json()["access_token"]
    with second_gateway(platform) as elsewhere:
        assert elsewhere.get("/api/v1/me", token=other).status_code == 200
        path = f"/api/v1/users/{person.user_id}/password"
        r = api.put(path, token=person.token, json={"password": "another new passphrase", "current_password": PASSWORD,
                                                    "end_other_sessions": "perhaps"})
        assert r.status_code == 400 and "end_other_sessions" in http_error(r)["details"]
        r = api.put(path, token=person.token, json={"password": "another new passphrase", "current_password": PASSWORD,
                                                    "end_other_sessions": True})
        assert r.status_code == 204, r.text
        wait_for(lambda: elsewhere.get("/api/v1/me", token=other).status_code == 401, timeout=5)
        assert api.get("/api/v1/me", token=other).status_code == 401
        assert api.get("/api/v1/me", token=person.token).status_code == 200  # the one that asked stays
        assert elsewhere.get("/api/v1/me", token=person.token).status_code == 200

        # by default a change ends them too (end_other_sessions left out)
        other = api.post("/api/v1/sessions", json={"method": "password", "account": person.mobile,
                                                   "password": "another new passphrase"}).json()["access_token"]
        assert elsewhere.get("/api/v1/me", token=other).status_code == 200
        r = api.put(path, token=person.token, json={"password": "a third new passphrase",
                                                    "current_password": "another new passphrase"})
        assert r.status_code == 204, r.text
        wait_for(lambda: elsewhere.get("/api/v1/me", token=other).status_code == 401, timeout=5)
        assert api.get("/api/v1/me", token=person.token).status_code == 200


def _up(base_url):
    import requests
    try:
        return requests.get(base_url + "/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False

"""Adding an instance disturbs none of the running ones (issue 25, item 2), tried as the README says.

Reported: with the platform running on EVENT_STORE=postgres, a second identity started with
`python -m deploy.launch --only identity` set up the broker users again with new passwords; from
then on every new connection of the running services was refused (ACCESS_REFUSED), and the gateway
answered GET /api/v1/me with 500. Here:
- a second identity, started so, consumes beside the first; then the broker closes every
  connection of the platform (each process must log in again, as after a network blip): they all
  do, /api/v1/me answers 200, and no log says ACCESS_REFUSED (setup keeps the passwords);
- the gateway's broker password changed under it, then identity's: /api/v1/me answers 503 (never
  500) while the login is refused, and 200 again once the password is back, no process exiting
  (services/common/outages.py);
- `python -m deploy.broker rotate --role identity`: a new password for identity alone, on the
  broker and in var/broker-users.json; identity restarted by its launcher logs in with it.
"""
import collections
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from services.common.rpc import RPC_DEADLINE
from tests.e2e.conftest import Api
from tests.e2e.identity_steps import login, register
from tests.sms import phone_of
from tests.support import rabbitmqctl, wait_for

from .readme_platform import ROOT, ReadmePlatform

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
# seconds a role's login stays refused: past the gateway's RPC deadline (services/common/rpc.py), so a
# call to a refused identity runs out within it; the consumers' reconnect pauses grow meanwhile (2 s, 4 s, ...)
REFUSED_FOR = RPC_DEADLINE + 2


@pytest.fixture(scope="module")
def platform():
    p = ReadmePlatform()
    with phone_of(p.env):  # tests/sms.py reads this platform's SMS
        try:
            p.launch()
            p.healthy()
            yield p
        finally:
            p.stop()


@pytest.fixture(scope="module")
def person(platform):
    api = Api(platform.base)
    user_id, mobile, _ = register(api)
    return api, user_id, login(api, mobile).json()["access_token"]


def me_statuses(api, token, until, timeout):
    """GET /api/v1/me until `until(status)` or `timeout` s: the statuses it answered, counted."""
    seen = collections.Counter()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = api.get("/api/v1/me", token=token).status_code
        except requests.RequestException:
            status = "no answer"
        seen[status] += 1
        if until(status):
            break
        time.sleep(0.3)
    return seen


def stored_uris(platform):
    return json.loads((platform.var / "broker-users.json").read_text())


def test_a_second_identity_started_as_the_readme_says_disturbs_no_running_service(platform, person):
    api, user_id, token = person
    assert api.get("/api/v1/me", token=token).status_code == 200
    uris = stored_uris(platform)
    platform.launch("--only", "identity")
    wait_for(lambda: platform.consumers("rpc-identity") == 2, 90, "the second identity consuming", interval=0.5)
    platform.close_connections()  # every process of both launches logs in again
    seen = me_statuses(api, token, lambda status: status == 200, 90)
    assert seen[200] == 1 and seen[500] == 0, seen
    wait_for(lambda: platform.consumers("rpc-identity") == 2, 60, "both identities consuming again", interval=0.5)
    # the rest of the platform logged in again too: each consumer of theirs is back
    for queue in ("rpc-enterprise", "rpc-notify", "rpc-audit", "rpc-authz", "rpc-card"):
        wait_for(lambda queue=queue: platform.consumers(queue) == 1, 60, f"{queue} consumed again", interval=0.5)
    assert "ACCESS_REFUSED" not in platform.logs()
    assert stored_uris(platform) == uris, "the second launch changed the broker users' passwords"


@pytest.mark.parametrize("role", ["gateway", "identity"])
def test_a_refused_broker_login_is_a_503_then_the_platform_recovers(platform, person, role):
    """The gateway's own login refused (its RPC publishers and reply listener), or a service's (both
    identities' consumers: the gateway's calls wait for their deadline)."""
    api, _, token = person
    user = platform.user(role)
    password = _password(stored_uris(platform)[role])
    assert rabbitmqctl("change_password", user, f"not the {role}'s password")
    try:
        platform.close_connections(user)  # its next connections log in with the password it holds
        refused = me_statuses(api, token, lambda status: False, REFUSED_FOR)
    finally:
        assert rabbitmqctl("change_password", user, password)
    recovered = me_statuses(api, token, lambda status: status == 200, 90)
    print(f"{role}'s login refused for {REFUSED_FOR} s: GET /me answered {dict(refused)}; then {dict(recovered)}")
    assert refused[503] >= 1 and set(refused) <= {503}, refused
    assert recovered[200] == 1 and recovered[500] == 0, recovered
    assert "exited with" not in platform.logs()  # no process ended meanwhile (the launcher says when one does)


def test_rotating_one_roles_password_keeps_the_others_and_the_restarted_service_logs_in(platform, person):
    api, _, token = person
    before = stored_uris(platform)
    done = subprocess.run([sys.executable, "-m", "deploy.broker", "rotate", "--role", "identity"],
                          cwd=ROOT, env=platform.env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    after = stored_uris(platform)
    assert after["identity"] != before["identity"]
    assert {r: u for r, u in after.items() if r != "identity"} == {r: u for r, u in before.items() if r != "identity"}
    os.kill(_child_pid(platform.launchers[0].pid, "identity.service"), signal.SIGKILL)
    wait_for(lambda: platform.consumers("rpc-identity") == 1, 30, "the killed identity gone", interval=0.5)
    # its launcher starts it again, with the file's new URI (the second identity keeps its open connections)
    wait_for(lambda: platform.consumers("rpc-identity") == 2, 90, "identity consuming with its new password",
             interval=0.5)
    seen = me_statuses(api, token, lambda status: status == 200, 90)
    assert seen[200] == 1 and seen[500] == 0, seen


def _password(uri):
    from urllib.parse import unquote, urlsplit
    return unquote(urlsplit(uri).password)


def _child_pid(parent, marker):
    out = subprocess.run(["ps", "-ww", "-o", "pid=,args=", "--ppid", str(parent)],
                         capture_output=True, text=True).stdout
    return next(int(line.split()[0]) for line in out.splitlines() if marker in line)

"""An erasure survives kill -9 of services midway (services/common/erasure.py): two services are
dead when it is asked, and identity and notify are killed right after it was accepted (identity
between its save and its relay's publish, or in its own part of the saga; notify wherever it is).
Supervision starts them again: every service confirms once, the erasure is done once, and then
login is refused every way and the ID number and mobile register again."""
import os
import signal

import pytest

from tests import sms
from tests.e2e.identity_steps import login, register
from tests.eport_cli import eport, json_lines

from .conftest import launched, wait_for
from tests.support import http_error

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
EVERY = ["audit", "authz", "card", "enterprise", "identity", "notify", "sso"]


def rows(p):
    return json_lines(eport("erasures", "list", "--json", amqp_uri=p.platform.env["AMQP_URI"]))


def kill(p, name):
    os.kill(p.pid(name), signal.SIGKILL)
    wait_for(lambda: not p.alive(name), 10, f"{name} dead")


def personal_code(api, token, mobile):
    r = api.post("/api/v1/sms-codes", token=token, json={"mobile": mobile, "purpose": "personal_data"})
    assert r.status_code == 202, r.text
    return sms.latest_code(mobile, "personal_data")


def test_an_erasure_outlives_kill_9_of_services_midway():
    with launched() as p:
        api = p.api
        user_id, mobile, id_number = register(api, name="赵钱孙")
        token = login(api, mobile).json()["access_token"]
        code = personal_code(api, token, mobile)
        p.supervising = False
        for name in ("audit", "card"):
            kill(p, name)
        r = api.post("/api/v1/me/erasure", token=token, json={"sms_code": code})
        assert r.status_code == 202, r.text
        erasure_id = r.json()["erasure_id"]
        for name in ("identity", "notify"):
            kill(p, name)
        http_error(api.get("/api/v1/me", token=token), 401, "UNAUTHENTICATED")  # ended at once, whatever else
        restarts = len(p.restarts)
        p.supervising = True  # the launcher's supervision starts the four again
        wait_for(lambda: len(p.restarts) - restarts >= 4, 120, "the killed services started again")

        def done():
            found = [row for row in rows(p) if row["erasure_id"] == erasure_id]
            return found[0] if found and found[0]["status"] == "done" else None

        row = wait_for(done, 120, "the erasure done")
        assert (row["user_id"], row["services_confirmed"]) == (user_id, EVERY)
        assert [r["erasure_id"] for r in rows(p) if r["user_id"] == user_id] == [erasure_id]  # once
        for account in (mobile, id_number):
            http_error(login(api, account), 401, "INVALID_CREDENTIALS")
        assert sms.messages(mobile) == []  # the SMS outbox forgot the mobile
        device = api.from_source("127.0.8.3")  # another: the register code's resend pause may still run here
        r = device.post("/api/v1/sms-codes", json={"mobile": mobile, "purpose": "register"})
        assert r.status_code == 202, r.text
        r = device.post("/api/v1/users", json={"name": "周吴郑", "id_number": id_number, "mobile": mobile,
                                               "sms_code": sms.latest_code(mobile, "register")})
        assert r.status_code == 201, r.text
        assert r.json()["user_id"] != user_id

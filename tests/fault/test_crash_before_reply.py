"""identity dies after saving a registration and before replying (EPORT_CRASH_AFTER_COMMAND): the
broker redelivers the request to the restarted identity, which answers what it had saved, so the
client gets 201 with its user_id and never 409 ID_NUMBER_TAKEN for its own registration; a client
that gave up and retries with its Idempotency-Key gets the same answer."""
import os

import pytest
import requests

from tests import sms
from tests.e2e.test_identity_api import PASSWORD, ask_code, error_of
from tests.factories import new_id_number, new_mobile

from .conftest import launched, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def registration(api):
    mobile = new_mobile()
    return {"name": "赵六", "id_number": new_id_number(), "mobile": mobile,
            "sms_code": ask_code(api, mobile, "register")}


def crash_armed(var):
    marker = os.path.join(var, "crashed-after-register")
    if os.path.exists(marker):
        os.remove(marker)
    return marker


def test_a_registration_whose_reply_was_lost_answers_201_with_its_user():
    with launched(only=["identity", "notify", "gateway"], env={"EPORT_CRASH_AFTER_COMMAND": "register"}) as p:
        api = p.api
        # 1. The gateway's own request is redelivered after identity's death.
        crash_armed(p.var)
        body = registration(api)
        pid = p.pid("identity")
        r = api.post("/api/v1/users", json=body)
        assert r.status_code == 201, r.text
        assert p.pid("identity") != pid, "identity did not die before replying: the test proves nothing"
        user = r.json()
        # the ID number is registered, once: with another mobile it is taken
        again = dict(registration(api), id_number=body["id_number"])
        error_of(api.post("/api/v1/users", json=again), 409, "ID_NUMBER_TAKEN")
        # 2. A client that gave up waiting retries with its key once identity is back.
        marker = crash_armed(p.var)
        body2 = registration(api)
        key = {"Idempotency-Key": "retry-after-crash"}
        pid = p.pid("identity")
        p.supervising = False  # identity stays dead until the client gave up
        try:
            lost = api.http.post(api.base + "/api/v1/users", json=body2, headers=key, timeout=1.5)
            raise AssertionError(f"answered before identity died: {lost.status_code} {lost.text}")
        except requests.Timeout:
            pass
        wait_for(lambda: os.path.exists(marker) and not p.alive("identity"), 30, "identity killed")
        p.supervising = True
        wait_for(lambda: p.pid("identity") != pid, 30, "identity restarted")
        p.wait_healthy(60)
        retried = api.post("/api/v1/users", json=body2, headers=key)
        assert retried.status_code == 201, retried.text
        again = api.post("/api/v1/users", json=body2, headers=key)
        assert again.json() == retried.json()
        for u, b in ((user, body), (retried.json(), body2)):
            r = api.put(f"/api/v1/users/{u['user_id']}/password",
                        json={"password": PASSWORD, "password_setup_token": u["password_setup_token"]})
            assert r.status_code == 204, r.text
            login = api.post("/api/v1/sessions", json={"method": "password", "account": b["mobile"],
                                                       "password": PASSWORD})
            assert login.json()["user_id"] == u["user_id"]
        assert len(sms.messages(body2["mobile"])) == 1

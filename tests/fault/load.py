"""Steady load for the fault tests, and the three things each of them proves at the end.

Each virtual user loops (bounded by a deadline) through: an administrator registers, sets a
password, logs in and registers an enterprise; a member registers, logs in and applies to it.
Every answer is counted by step and status; what was acknowledged (201/202/204) is remembered, so
that afterwards `verify` can prove
1. every acknowledged command is stored (the accounts log in, the associations are on /me);
2. every consumer effect happened exactly once: one association_requested message in the
   administrator's inbox (notify) per application, one administrator learnt by authz per
   enterprise, and in the audit log each event of an acknowledged command once;
3. no answer was a 500.
Commands go with an Idempotency-Key, and a request that failed for a passing reason (a 503, a
dropped connection) is retried with the same key, as a careful client does.
"""
import collections
import os
import sqlite3
import threading
import time
import uuid

import requests

from tests import sms
from tests.factories import new_id_number, new_mobile, new_uscc
from tests.support import http_error

PASSWORD = "a long enough passphrase"
RETRYABLE = {502, 503, 504}
# Seconds a virtual user waits for its SMS code: as long as the load may pause in test_rabbit_cluster
# (90 s). A code that does not come by then was lost ("no SMS": identity's hand-off went unconfirmed
# down a stuck channel until services/common/publishing_channels.py OwnTransportOptions).
SMS_WAIT = 90


class Load:
    def __init__(self, base_url, users=3, retry_for=45.0):
        self.base = base_url
        self.users = users
        self.retry_for = retry_for
        self.statuses = collections.Counter()  # (step, status) -> count
        self.stories = []  # acknowledged: {admin, member, enterprise_id, association_id}
        self.acknowledged_at = []  # time.monotonic() of each story's acknowledgement, in order
        self.errors = []  # the body of every 500
        self.failed_at = []  # (time.monotonic(), step, status) of every answer that was not the one hoped for
        self._stop = threading.Event()
        self._threads = []
        self._lock = threading.Lock()

    # -- running ---------------------------------------------------------------------------------
    def start(self):
        for _ in range(self.users):
            t = threading.Thread(target=self._loop, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self, timeout=120):
        self._stop.set()
        for t in self._threads:
            t.join(timeout)
        assert not any(t.is_alive() for t in self._threads), "a virtual user did not stop"

    def summary(self):
        """What the load saw, for the test's output and docs/RELIABILITY.md."""
        by_status = collections.Counter()
        for (_, status), n in self.statuses.items():
            by_status[status] += n
        statuses = dict(sorted(by_status.items(), key=str))
        return f"{len(self.stories)} stories acknowledged; answers by status: {statuses}"

    def acknowledged(self):
        with self._lock:
            return len(self.stories)

    def longest_pause(self, since, until):
        """The longest time between `since`, the stories acknowledged in between, and `until`."""
        with self._lock:
            times = [since] + [t for t in self.acknowledged_at if since <= t <= until] + [until]
        return max(b - a for a, b in zip(times, times[1:], strict=False))

    def _loop(self):
        session = requests.Session()
        while not self._stop.is_set():
            try:
                story = self._story(session)
            except GaveUp:
                continue
            with self._lock:
                self.stories.append(story)
                self.acknowledged_at.append(time.monotonic())

    def _call(self, session, step, method, path, ok, token=None, json=None):
        """One command, retried with its key while the failure is a passing one."""
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        deadline = time.monotonic() + self.retry_for
        while True:
            try:
                r = session.request(method, self.base + path, json=json, headers=headers, timeout=30)
                status = r.status_code
            except requests.RequestException:  # the gateway itself was killed, or is starting
                r, status = None, "no answer"
            with self._lock:
                self.statuses[(step, status)] += 1
                if status == 500:
                    self.errors.append((step, r.text))
                if status not in ok:
                    self.failed_at.append((time.monotonic(), step, status))
            if status in ok:
                return r
            if not _passing(r, status) or time.monotonic() > deadline:
                raise GaveUp(step, status)
            time.sleep(0.3)

    def _person(self, session, name):
        mobile = new_mobile()
        self._call(session, "sms-code", "POST", "/api/v1/sms-codes", {202},
                   json={"mobile": mobile, "purpose": "register"})
        code = self._code(mobile)
        user = self._call(session, "register", "POST", "/api/v1/users", {201},
                          json={"name": name, "id_number": new_id_number(), "mobile": mobile,
                                "sms_code": code}).json()
        self._call(session, "password", "PUT", f"/api/v1/users/{user['user_id']}/password", {204},
                   json={"password": PASSWORD, "password_setup_token": user["password_setup_token"]})
        token = self._call(session, "login", "POST", "/api/v1/sessions", {201},
                           json={"method": "password", "account": mobile, "password": PASSWORD}).json()["access_token"]
        return {"user_id": user["user_id"], "mobile": mobile, "token": token}

    def _code(self, mobile):
        """The registration code sent to `mobile`, waited for as long as a fault's recovery may take (the
        fault tests give the load SMS_WAIT to go on); one that never comes is a failed answer of its own,
        "no SMS", which no fault test allows, and this virtual user goes on with a new story."""
        try:
            return sms.latest_code(mobile, "register", timeout=SMS_WAIT)
        except AssertionError:
            with self._lock:
                self.statuses[("sms", "no SMS")] += 1
                self.failed_at.append((time.monotonic(), "sms", "no SMS"))
            raise GaveUp("sms", "no SMS") from None

    def _story(self, session):
        admin = self._person(session, "张管理")
        uscc = new_uscc()
        enterprise = self._call(session, "associate-admin", "POST", "/api/v1/associations", {201}, admin["token"],
                                json={"uscc": uscc, "role": "admin", "name": "故障测试贸易有限公司",
                                      "address": "杭州", "business_scope": "进出口"}).json()
        member = self._person(session, "李成员")
        applied = self._call(session, "apply", "POST", "/api/v1/associations", {202}, member["token"],
                             json={"uscc": uscc, "role": "user"}).json()
        return {"admin": admin, "member": member, "enterprise_id": enterprise["enterprise_id"],
                "association_id": applied["association_id"]}

    # -- proving ---------------------------------------------------------------------------------
    def verify(self, var, settle=60, audit_url=None):
        """The three proofs (module docstring); waits up to `settle` s for consumers to catch up."""
        assert not self.errors, f"answers 500: {self.errors[:3]}"
        assert not self.statuses[("sms", "no SMS")], f"SMS codes answered 202 that never came: {dict(self.statuses)}"
        assert self.stories, f"nothing was acknowledged: {dict(self.statuses)}"
        session = requests.Session()
        deadline = time.monotonic() + settle
        for story in self.stories:
            for who in ("admin", "member"):
                person = story[who]
                r = session.post(self.base + "/api/v1/sessions", timeout=30,
                                 json={"method": "password", "account": person["mobile"], "password": PASSWORD})
                assert r.status_code == 201 and r.json()["user_id"] == person["user_id"], r.text
            me = session.get(self.base + "/api/v1/me", headers=_bearer(story["member"]), timeout=30).json()
            assert [a["association_id"] for a in me["associations"]] == [story["association_id"]], me
            while True:  # the inbox: one message per application, however often it was delivered
                inbox = session.get(self.base + "/api/v1/messages", headers=_bearer(story["admin"]), timeout=30).json()
                asked = [m for m in inbox["items"] if m["kind"] == "association_requested"]
                if asked or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert [m["data"]["association_id"] for m in asked] == [story["association_id"]], inbox
        self._verify_audit(var, deadline, audit_url)

    def _verify_audit(self, var, deadline, audit_url=None):
        enterprises = {s["enterprise_id"] for s in self.stories}
        users = {s[w]["user_id"] for s in self.stories for w in ("admin", "member")}
        while True:
            rows = _audit_rows(var, audit_url)
            registered = {r["aggregate_id"] for r in rows if r["event_type"] == "UserRegistered"}
            learnt = collections.Counter(r["enterprise_id"] for r in rows if r["source"] == "authz")
            if (users <= registered and all(learnt[e] for e in enterprises)) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert users <= registered, f"{len(users - registered)} registrations missing from the audit log"
        assert all(learnt[e] == 1 for e in enterprises), \
            f"authz learnt an administrator other than once: {[learnt[e] for e in enterprises]}"
        same_event = collections.Counter((r["source"], r["aggregate_id"], r["aggregate_version"], r["event_type"])
                                         for r in rows)
        assert max(same_event.values()) == 1, "an event is in the audit log twice"
        per_user = collections.Counter(r["aggregate_id"] for r in rows if r["event_type"] == "UserRegistered")
        assert max(per_user.values()) == 1


class GaveUp(Exception):
    pass


def _passing(response, status):
    """A failure a retry with the same key may mend: the gateway or a service away, or the
    first try with this key still running (409 IDEMPOTENCY_KEY_IN_USE)."""
    if status == "no answer" or status in RETRYABLE:
        return True
    return status == 409 and http_error(response)["code"] == "IDEMPOTENCY_KEY_IN_USE"


def _bearer(person):
    return {"Authorization": f"Bearer {person['token']}"}


AUDIT_COLUMNS = "source, event_type, aggregate_id, aggregate_version, enterprise_id"


def _audit_rows(var, audit_url=None):
    """The audit log's rows: in var/audit.db, or with EVENT_STORE=postgres in its database."""
    if audit_url:
        import psycopg2
        import psycopg2.extras
        try:
            with psycopg2.connect(audit_url) as db, db.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                cur.execute(f"SELECT {AUDIT_COLUMNS} FROM audit_events")
                return [dict(r) for r in cur.fetchall()]
        except psycopg2.Error:  # not created yet, or the database is restarting
            return []
    path = os.path.join(var, "audit.db")
    if not os.path.exists(path):
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute(
            f"SELECT {AUDIT_COLUMNS} FROM audit_events")]
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        db.close()

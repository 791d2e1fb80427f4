"""PII at rest: after a person registered, logged in, registered an enterprise, bound its
legal-person card (which carries their name and ID number) and logged in by SMS, no raw file
under the platform's var/ (event stores, their WAL, relay positions, the audit log, logs) holds
their name, ID number or mobile; the development SMS outbox included, whose lines are sealed with a
key of their mobile (services/notify/outbox_seal.py), though the SMS read back from it are theirs."""
import os
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.enterprise_people import register, register_enterprise, wait_for
from tests.sms import latest_code, messages

pytestmark = pytest.mark.e2e


def audited(var, user_id):
    """How many events about `user_id` the audit log holds (ids are in clear, what it filters on)."""
    path = var / "audit.db"
    if not path.exists():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute("SELECT COUNT(*) FROM audit_events WHERE subject = ?", (user_id,)).fetchone()[0]


def files_holding(var, needles):
    found = []
    for root, _, names in os.walk(var):
        for name in names:
            path = Path(root) / name
            try:
                raw = path.read_bytes()
            except OSError:  # gone meanwhile (a temporary file)
                continue
            found += [(str(path.relative_to(var)), label) for label, needle in needles.items() if needle in raw]
    return found


def test_no_file_under_var_holds_a_registered_name_id_number_or_mobile(api, platform):
    var = Path(platform.env["EPORT_VAR"])
    person = register(api, name="司马相如")
    register_enterprise(api, person)  # binds the legal-person card: holder name and ID number in its certificate
    r = api.post("/api/v1/sms-codes", json={"mobile": person.mobile, "purpose": "login"})
    assert r.status_code == 202, r.text
    r = api.post("/api/v1/sessions", json={"method": "sms", "mobile": person.mobile,
                                           "sms_code": latest_code(person.mobile, "login")})
    assert r.status_code == 201, r.text
    # registered, password set, two logins, association, card bound, role certified
    wait_for(lambda: audited(var, person.user_id) >= 5, timeout=30)
    needles = {"name": person.name.encode("utf-8"), "ID number": person.id_number.encode("ascii"),
               "mobile": person.mobile.encode("ascii")}
    assert messages(person.mobile)  # the outbox holds their SMS, which the reader opens...
    assert (var / "sms-outbox.jsonl").stat().st_size > 0
    assert files_holding(var, needles) == []  # ...yet no file, the outbox included, holds the mobile

"""The AsyncAPI document against what the running platform really publishes.

A plain pika subscriber (tests/e2e/event_recorder.py, a process of its own) binds `#` on every
`<source>.events` exchange; the test drives every event type declared in contracts/ over HTTP,
then validates every message received with `jsonschema` against contracts/asyncapi.yaml: body and
headers. It fails on any violation, on an event type emitted but not documented (or on an
exchange the document does not name), and on one documented but never emitted.
"""
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from eport_card.devca import load_ca
from services.card.trust import ensure_dev_ca
from tests.asyncapi_validation import FORMATS, MessageValidators, load_document
from tests.e2e.certification import claim
from tests.e2e.conftest import skip_unless_deployed
from tests.e2e.enterprise_people import (
    CLAIMED, PASSWORD, apply, approve, person_name, register, register_enterprise, wait_for,
)
from tests.e2e.sso_people import drive_sso_events
from tests.e2e.identity_claim_steps import card_of, claim_body, register_as
from tests.factories import new_id_number
from tests.sms import latest_code
from tests.e2e.card_steps import bind_card

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(240)]

RECORDER = Path(__file__).with_name("event_recorder.py")
NEEDED = {"identity", "notify", "enterprise", "card", "authz", "audit", "sso", "gateway"}


def documented_exchanges(doc):
    return sorted({ch["bindings"]["amqp"]["exchange"]["name"] for ch in doc["channels"].values()})


def broker_exchanges(vhost):
    """The `*.events` exchanges that exist on the platform's vhost (None without rabbitmqctl)."""
    exe = shutil.which("rabbitmqctl")
    if not exe or not vhost:
        return None
    out = subprocess.run([exe, "list_exchanges", "-p", vhost, "name", "--no-table-headers", "-q"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return {line.strip() for line in out.splitlines() if line.strip().endswith(".events")}


class Recorder:
    def __init__(self, amqp_uri, exchanges, path):
        self.path = path
        self.proc = subprocess.Popen([sys.executable, str(RECORDER), amqp_uri, str(path), *exchanges],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready", "the subscriber did not bind"

    def messages(self):
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def drive_every_event_type(api, platform):
    """The manual's story, and the rest: each call names the events it causes."""
    admin, member, refused = register(api), register(api), register(api)  # UserRegistered, PasswordSet, UserLoggedIn
    # EnterpriseRegistered, AssociationApproved, EnterpriseAdminChanged; bound the 法人卡: CardBound, RoleCertified,
    # EnterpriseCertified
    eid, uscc = register_enterprise(api, admin)
    squatter, holder = register(api), register(api)
    _, squatted = register_enterprise(api, squatter, certify_role=False)
    # AdminSuperseded, MemberRemoved, RoleCertified; the claimant's details replace the squatter's:
    # EnterpriseDetailsChanged (via claim), EnterpriseCertified
    claimed = claim(api, holder.token, squatted, holder.name, holder.id_number, **CLAIMED)
    # the card it rests on unbound: CardUnbound, RoleCertificationLost
    r = api.delete(f"/api/v1/enterprises/{claimed['enterprise_id']}/card", token=holder.token)
    assert r.status_code == 204, r.text
    r = api.put(f"/api/v1/enterprises/{eid}", token=admin.token, json={"business_scope": "报关代理；货物进出口"})
    assert r.status_code == 200, r.text  # EnterpriseDetailsChanged (via admin)
    approve(api, admin, apply(api, member, uscc))  # AssociationRequested, AssociationApproved
    r = api.post(f"/api/v1/association-requests/{apply(api, refused, uscc)}/reject", token=admin.token,
                 json={"reason": "不认识"})
    assert r.status_code == 200, r.text  # AssociationRejected
    permissions = f"/api/v1/enterprises/{eid}/members/{member.user_id}/permissions"
    for systems in (["manifest"], []):  # PermissionGranted, PermissionRevoked
        r = api.put(permissions, token=admin.token, json={"systems": systems})
        assert r.status_code == 200, r.text
    ca = load_ca(ensure_dev_ca(Path(platform.env["EPORT_VAR"]) / "card-ca"))
    bind_card(api, member, eid, uscc, ca)  # CardBound, IdentityVerified (via card)
    name, id_number = person_name(), new_id_number()
    register_as(api, name, id_number)
    r = api.post("/api/v1/identity-claims", json=claim_body(api, card_of(name, id_number), name, id_number))
    assert r.status_code == 201, r.text  # UserRegistered, IdentityVerified (via claim), UserSuperseded
    r = api.delete(f"/api/v1/enterprises/{eid}/card", token=member.token)
    assert r.status_code == 204, r.text  # CardUnbound
    r = api.put(f"/api/v1/enterprises/{eid}/admin", token=admin.token, json={"user_id": member.user_id})
    assert r.status_code == 200, r.text  # AdminTransferred, EnterpriseAdminChanged
    r = api.delete(f"/api/v1/enterprises/{eid}/members/{admin.user_id}", token=member.token)
    assert r.status_code == 204, r.text  # MemberRemoved
    r = api.put(f"/api/v1/users/{member.user_id}/password", token=member.token,
                json={"password": PASSWORD + "-2", "current_password": PASSWORD})
    assert r.status_code == 204, r.text  # PasswordSet (change)
    r = api.delete("/api/v1/sessions/current", token=member.token)
    assert r.status_code == 204, r.text  # SessionRevoked
    for _ in range(5):  # LoginFailed ×5, UserLocked
        r = api.post("/api/v1/sessions", json={"method": "password", "account": refused.mobile, "password": "wrong!"})
        assert r.status_code in (401, 423), r.text
    r = api.post("/api/v1/sms-codes", json={"mobile": refused.mobile, "purpose": "reset_password"})
    assert r.status_code == 202, r.text
    r = api.post("/api/v1/password-resets", json={"mobile": refused.mobile, "new_password": PASSWORD + "-3",
                                                  "sms_code": latest_code(refused.mobile, "reset_password")})
    assert r.status_code == 204, r.text  # PasswordSet (reset)
    drive_sso_events(api, platform)  # ClientRegistered, TokensIssued, TokenFamilyEnded, ClientRemoved
    leaving = register(api)
    r = api.post("/api/v1/sms-codes", token=leaving.token, json={"mobile": leaving.mobile, "purpose": "personal_data"})
    assert r.status_code == 202, r.text
    r = api.post("/api/v1/me/erasure", token=leaving.token,
                 json={"sms_code": latest_code(leaving.mobile, "personal_data")})
    assert r.status_code == 202, r.text  # UserErased; ErasureCompleted once every service confirmed it


def violations(messages, doc):
    validators = MessageValidators(doc)
    headers = {(key.split(".", 1)[0], m["name"]): jsonschema.Draft7Validator(m["headers"], format_checker=FORMATS)
               for key, m in doc["components"]["messages"].items()}
    found = []
    for m in messages:
        source, event_type = m["exchange"].removesuffix(".events"), m["routing_key"]
        where = f"{m['exchange']}/{event_type}"
        body = json.loads(m["body"])
        found += [f"{where}: {err}" for err in validators.errors(source, event_type, body)]
        if (source, event_type) in headers:
            found += [f"{where} headers: {e.message}" for e in headers[(source, event_type)].iter_errors(
                m["properties"]["headers"] or {})]
        props = m["properties"]
        if props["content_type"] != doc["defaultContentType"] or props["delivery_mode"] != 2 or \
                props["message_id"] != body.get("event_id"):
            found.append(f"{where}: properties {props} (json, persistent, message_id = event_id)")
    return found


def test_every_published_event_is_valid_and_every_documented_type_is_published(api, platform, tmp_path):
    skip_unless_deployed(platform, NEEDED)
    doc = load_document()
    documented = {(key.split(".", 1)[0], m["name"]) for key, m in doc["components"]["messages"].items()}
    exchanges = documented_exchanges(doc)
    recorder = Recorder(platform.env["AMQP_URI"], exchanges, tmp_path / "events.jsonl")
    try:
        started = time.monotonic()
        drive_every_event_type(api, platform)

        def seen_all():
            seen = {(m["exchange"].removesuffix(".events"), m["routing_key"]) for m in recorder.messages()}
            return seen if seen >= documented else None

        try:
            wait_for(seen_all, timeout=30, interval=0.25)
        except AssertionError:
            pass  # the assertions below say what is missing
        time.sleep(1)  # the events caused by the last ones (consumers' reactions) arrive too
    finally:
        recorder.stop()
    messages = recorder.messages()
    emitted = {(m["exchange"].removesuffix(".events"), m["routing_key"]) for m in messages}
    print(f"\n{len(messages)} real events of {len(emitted)} types validated against contracts/asyncapi.yaml "
          f"in {time.monotonic() - started:.1f}s")
    assert not violations(messages, doc)
    # every one of them was caused by an HTTP request, so every one carries its X-Request-ID
    assert [m["routing_key"] for m in messages if not json.loads(m["body"])["correlation_id"]] == []
    assert not sorted(emitted - documented), "emitted but not documented"
    assert not sorted(documented - emitted), "documented but never emitted"
    on_broker = broker_exchanges(getattr(platform, "vhost", None))
    if on_broker is not None:
        assert on_broker <= set(exchanges), "exchanges of events the document does not name"

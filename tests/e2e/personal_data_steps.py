"""A person with data in every service, over the public API, for the personal-data suites (export,
erasure): an enterprise with its administrator (the neighbour), the person's association, grants,
an IC card of the development CA bound, logins of every kind (password, SMS, card) and inbox
messages; then the personal_data SMS code and the export."""
import hashlib
import random
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tests import sms
from tests.e2e.card_steps import bind_card, sign_nonce
from tests.e2e.certification import platform_ca
from tests.e2e.enterprise_people import Person, apply, approve, messages, register, register_enterprise, wait_for

SYSTEMS = ["manifest"]


def rare_name():
    """A name of rare characters (CJK Extension A: the name check refuses Extension B's, such as 𠀋),
    unique to the run, so that a search for it finds only this person's."""
    return "鲍" + "".join(chr(random.randrange(0x3400, 0x4DB6)) for _ in range(3))


@dataclass
class Someone:
    person: Person
    enterprise_id: str
    uscc: str
    card_no: str = ""
    cert_sha256: str = ""
    certificate_pem: str = ""


def personal_code(api, person):
    """A new personal_data code of `person`'s (not the last one read). A second one within the
    cooldown (60 s per client address) needs an `api` of another address (Api.from_source)."""
    body = {"mobile": person.mobile, "purpose": "personal_data"}

    def sent():
        return [m["code"] for m in sms.messages(person.mobile) if m["purpose"] == "personal_data"]

    before = len(sent())
    r = api.post("/api/v1/sms-codes", token=person.token, json=body)
    assert r.status_code == 202, r.text
    return wait_for(lambda: sent()[before:] and sent()[-1])


def export(api, person, code=None):
    return api.post("/api/v1/me/export", token=person.token, json={"sms_code": code or personal_code(api, person)})


def log_in_every_way(api, person, card):
    """A password login, an SMS login and a card login of `person`; the last session's token."""
    r = api.post("/api/v1/sessions", json={"method": "password", "account": person.id_number,
                                           "password": "Eport#2024-enterprise"})
    assert r.status_code == 201, r.text
    r = api.post("/api/v1/sms-codes", json={"mobile": person.mobile, "purpose": "login"})
    assert r.status_code == 202, r.text
    r = api.post("/api/v1/sessions", json={"method": "sms", "mobile": person.mobile,
                                           "sms_code": sms.latest_code(person.mobile, "login")})
    assert r.status_code == 201, r.text
    r = api.post("/api/v1/card-challenges", json={"purpose": "login", "card_no": card.card_no})
    assert r.status_code == 201, r.text
    challenge = r.json()
    r = api.post("/api/v1/sessions", json={"method": "card", "challenge_id": challenge["challenge_id"],
                                           "certificate": card.certificate_pem,
                                           "signature": sign_nonce(card, challenge["nonce"])})
    assert r.status_code == 201, r.text
    return r.json()["access_token"]


def neighbour_and_enterprise(api):
    """An administrator (certified with the enterprise's legal-person card) and the enterprise."""
    admin = register(api)
    eid, uscc = register_enterprise(api, admin)
    return Someone(admin, eid, uscc)


def member_with_everything(api, neighbour, name=None):
    """A member of the neighbour's enterprise with data in every service: association, grants, a
    bound card, logins of every kind, inbox messages."""
    person = register(api, name=name)
    approve(api, neighbour.person, apply(api, person, neighbour.uscc))

    def granted():  # authz learns the approval from enterprise's events: 409 NOT_A_MEMBER until then
        r = api.put(f"/api/v1/enterprises/{neighbour.enterprise_id}/members/{person.user_id}/permissions",
                    token=neighbour.person.token, json={"systems": SYSTEMS})
        if r.status_code == 409 and r.json()["error"]["code"] == "NOT_A_MEMBER":
            return False
        assert r.status_code == 200, r.text
        return True

    wait_for(granted, what="authz to learn the approval")
    card = bind_card(api, person, neighbour.enterprise_id, neighbour.uscc, platform_ca())
    person.token = log_in_every_way(api, person, card)
    wait_for(lambda: len(messages(api, person)["items"]) >= 2)  # approved, permissions granted
    der = x509.load_pem_x509_certificate(card.certificate_pem.encode()).public_bytes(Encoding.DER)
    return Someone(person, neighbour.enterprise_id, neighbour.uscc, card.card_no, hashlib.sha256(der).hexdigest(),
                   card.certificate_pem)

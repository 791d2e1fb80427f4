"""The card e2e suites' parts (the real PC/SC chain: agent, pcscd, the emulator): fixtures `base`
(the gateway's URL), `ca` (the platform's development CA), `admin` and `enterprise`; people, cards
issued to them, signing a challenge with the inserted card. For test_card_binding.py,
test_role_certification.py and test_card_pcscd_restart.py, which import the fixtures they use."""
import base64
import time
import uuid
from pathlib import Path
import pytest
import requests
from eport_card.agent import find_card
from eport_card.agent import bind as agent_bind
from eport_card.devca import issue_card, load_ca
from services.card.trust import ensure_dev_ca
from tests.e2e.certification import certify
from tests.e2e.conftest import Api
from tests.factories import new_id_number, new_mobile, new_uscc
from tests.sms import latest_code

PIN = "123456"
NEEDED = {"identity", "notify", "enterprise", "card", "gateway"}
_card_numbers = iter(range(int(time.time() * 1000) % 10**9, 10**10))


@pytest.fixture(scope="module")
def base(platform):
    missing = NEEDED - set(platform.services)
    if missing:
        pytest.skip(f"needs {', '.join(sorted(missing))} in E2E_SERVICES")
    if platform.env.get("CARD_CA_CERT"):
        pytest.skip("the platform trusts a CA of its own (CARD_CA_CERT): cannot issue cards for it")
    return platform.base_url


@pytest.fixture(scope="module")
def ca(base, platform):
    """The platform's card CA: whoever comes first (the card service or this) creates it."""
    return load_ca(ensure_dev_ca(Path(platform.env["EPORT_VAR"]) / "card-ca"))


class Person:
    def __init__(self, base, name="张三"):
        self.base = base
        self.name = name
        self.id_number = new_id_number()
        self.mobile = new_mobile()
        http = requests.Session()
        r = http.post(f"{base}/api/v1/sms-codes", json={"mobile": self.mobile, "purpose": "register"}, timeout=30)
        assert r.status_code == 202, r.text
        r = http.post(f"{base}/api/v1/users", timeout=30, json={
            "name": name, "id_number": self.id_number, "mobile": self.mobile,
            "sms_code": latest_code(self.mobile, "register")})
        assert r.status_code == 201, r.text
        self.user_id = r.json()["user_id"]
        password = f"Card-{uuid.uuid4().hex[:10]}"
        r = http.put(f"{base}/api/v1/users/{self.user_id}/password", timeout=30,
                     json={"password": password, "password_setup_token": r.json()["password_setup_token"]})
        assert r.status_code == 204, r.text
        r = http.post(f"{base}/api/v1/sessions", json={"method": "password", "account": self.mobile,
                                                       "password": password}, timeout=30)
        assert r.status_code == 201, r.text
        self.token = r.json()["access_token"]
        self.http = http

    def call(self, method, path, **kw):
        return self.http.request(method, self.base + path, headers={"Authorization": f"Bearer {self.token}"},
                                 timeout=30, **kw)

    def register_enterprise(self):
        uscc = new_uscc()
        r = self.call("POST", "/api/v1/associations", json={
            "uscc": uscc, "role": "admin", "name": f"宁波测试{uuid.uuid4().hex[:6]}贸易有限公司",
            "address": "浙江省宁波市", "business_scope": "货物进出口"})
        assert r.status_code == 201, r.text
        USCC_OF[r.json()["enterprise_id"]] = uscc
        return r.json()["enterprise_id"]

    def card_of(self, enterprise_id):
        me = self.call("GET", "/api/v1/me").json()
        return next(a["card"] for a in me["associations"] if a["enterprise_id"] == enterprise_id)

    def bind(self, enterprise_id, pin=PIN):
        return agent_bind(self.base, self.token, enterprise_id, pin, card_timeout=5)

    def unbind(self, enterprise_id):
        return self.call("DELETE", f"/api/v1/enterprises/{enterprise_id}/card")


def certify_admin(admin, enterprise_id):
    """The administrator's role certified (角色认证) with a legal-person card bound through the real
    API but signed in this process (tests/e2e/certification.py): the reader stays free."""
    return certify(Api(admin.base), admin.token, admin.user_id, enterprise_id, USCC_OF[enterprise_id], admin.name,
                   admin.id_number, wait=False)


def join(admin, member, enterprise_id):
    """`member` applies to `admin`'s enterprise as a user; the admin (certified first) approves."""
    detail = admin.call("GET", f"/api/v1/enterprises/{enterprise_id}").json()
    if not detail["admin_role_certified"]:
        certify_admin(admin, enterprise_id)
    uscc = detail["uscc"]
    r = member.call("POST", "/api/v1/associations", json={"uscc": uscc, "role": "user"})
    assert r.status_code == 202, r.text
    association_id = r.json()["association_id"]
    r = admin.call("POST", f"/api/v1/association-requests/{association_id}/approve")
    assert r.status_code == 200, r.text
    return association_id


USCC_OF = {}  # enterprise_id -> USCC, of the enterprises these tests registered


SOME_OTHER_USCC = "91350100M000100Y43"


def issue(ca, tmp_path, person, card_type="operator", enterprise=None, **overrides):
    """A card image of `person` (holder name and ID number as registered) from `ca`, issued to
    `enterprise` (its USCC in the certificate), else to some other enterprise."""
    fields = dict(card_no=f"88{next(_card_numbers):011d}", card_type=card_type, holder_name=person.name,
                  holder_id_number=person.id_number, uscc=USCC_OF.get(enterprise, SOME_OTHER_USCC), pin=PIN)
    fields.update(overrides)
    path = tmp_path / f"{fields['card_no']}.json"
    issue_card(ca, **fields).save(path)
    return path


@pytest.fixture
def admin(base):
    return Person(base, "张三")


@pytest.fixture
def enterprise(admin):
    return admin.register_enterprise()


def gateway_error(excinfo):
    return excinfo.value.status, excinfo.value.code


def sign_with_card(challenge):
    """Verify the PIN and have the card in the reader sign the challenge; returns the proof."""
    with find_card(timeout=5) as session:
        info = session.read_info()
        certificate = session.read_certificate()
        session.verify_pin(PIN)
        signature = session.sign(base64.b64decode(challenge["nonce"]))
    return {"card_no": info.card_no, "challenge_id": challenge["challenge_id"], "certificate": certificate,
            "signature": base64.b64encode(signature).decode()}


def find_card_no():
    with find_card(timeout=5) as session:
        return session.read_info().card_no

"""People for the enterprise e2e tests, registered and logged in the way the manual describes:
SMS code, registration, password, login by mobile and password (all over HTTP)."""
import itertools
import random
from dataclasses import dataclass
from functools import partial

from contracts.validators import uscc_check_character
from tests import support
from tests.e2e.certification import certify
from tests.factories import new_id_number, new_mobile
from tests.sms import latest_code

PASSWORD = "Eport#2024-enterprise"
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
_names = itertools.count()


@dataclass
class Person:
    user_id: str
    token: str
    name: str
    mobile: str
    id_number: str = ""


def person_name():
    n = next(_names)
    return _SURNAMES[n % len(_SURNAMES)] + _GIVEN[(n // len(_SURNAMES)) % len(_GIVEN)] + \
        _GIVEN[random.randrange(len(_GIVEN))]


def register(api, name=None, mobile=None, id_number=None):
    """A new account, logged in: new values, or the ones given (released by an erasure)."""
    name = name or person_name()
    mobile, id_number = mobile or new_mobile(), id_number or new_id_number()
    r = api.post("/api/v1/sms-codes", json={"mobile": mobile, "purpose": "register"})
    assert r.status_code == 202, r.text
    r = api.post("/api/v1/users", json={"name": name, "id_type": "resident_id", "id_number": id_number,
                                        "mobile": mobile, "sms_code": latest_code(mobile, "register")})
    assert r.status_code == 201, r.text
    user_id, setup = r.json()["user_id"], r.json()["password_setup_token"]
    r = api.put(f"/api/v1/users/{user_id}/password", json={"password": PASSWORD, "password_setup_token": setup})
    assert r.status_code == 204, r.text
    r = api.post("/api/v1/sessions", json={"method": "password", "account": mobile, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return Person(user_id, r.json()["access_token"], name, mobile, id_number)


def unknown_uscc():
    """A valid USCC that the registry file does not hold (region code 330000 is not used there)."""
    first17 = "91330000MA2" + "".join(random.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(6))
    return first17 + uscc_check_character(first17)


MANUAL = {"name": "杭州手工录入贸易有限公司", "address": "浙江省杭州市西湖区文三路90号",
          "business_scope": "货物进出口；技术进出口"}
# What the holder of the legal-person card types when claiming an enterprise someone else typed in by hand
CLAIMED = {"name": "杭州法人认领贸易有限公司", "address": "浙江省杭州市滨江区江南大道3888号",
           "business_scope": "报关代理；货物进出口"}


def register_enterprise(api, admin, uscc=None, certify_role=True, **manual):
    """`admin` registers an enterprise (by hand unless `uscc` is in the registry); its id and USCC.
    Unless `certify_role` is false the administrator then binds the enterprise's legal-person card,
    which certifies the role (角色认证) and the enterprise (企业认证)."""
    body = {"uscc": uscc or unknown_uscc(), "role": "admin", **(manual or MANUAL)}
    r = api.post("/api/v1/associations", token=admin.token, json=body)
    assert r.status_code == 201, r.text
    eid = r.json()["enterprise_id"]
    if certify_role:
        certify(api, admin.token, admin.user_id, eid, body["uscc"], admin.name, admin.id_number)
    return eid, body["uscc"]


def apply(api, person, uscc):
    r = api.post("/api/v1/associations", token=person.token, json={"uscc": uscc, "role": "user"})
    assert r.status_code == 202, r.text
    return r.json()["association_id"]


def approve(api, admin, association_id):
    r = api.post(f"/api/v1/association-requests/{association_id}/approve", token=admin.token)
    assert r.status_code == 200, r.text


# over HTTP against the launched platform: longer and slower than tests/support.py's defaults
wait_for = partial(support.wait_for, timeout=15, interval=0.1)


def audit_trail(api, admin, eid, **params):
    """The enterprise's audit trail as its administrator reads it."""
    r = api.get(f"/api/v1/enterprises/{eid}/audit-events", token=admin.token, params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def messages(api, person, unread=False):
    r = api.get("/api/v1/messages" + ("?unread=true" if unread else ""), token=person.token)
    assert r.status_code == 200, r.text
    return r.json()

"""The identity steps of the e2e suites over the public API: ask an SMS code, register, log in, and
the error an answer carries."""
from tests import sms
from tests.factories import new_id_number, new_mobile


PASSWORD = "a long enough passphrase"


def ask_code(api, mobile, purpose):
    r = api.post("/api/v1/sms-codes", json={"mobile": mobile, "purpose": purpose})
    assert r.status_code == 202, r.text
    assert r.json() == {"expires_in": 300, "resend_after": 60}
    return sms.latest_code(mobile, purpose) if purpose == "register" else None


def register(api, name="张三", password=PASSWORD):
    mobile, id_number = new_mobile(), new_id_number()
    code = ask_code(api, mobile, "register")
    r = api.post("/api/v1/users", json={"name": name, "id_number": id_number, "mobile": mobile, "sms_code": code})
    assert r.status_code == 201, r.text
    user = r.json()
    assert set(user) == {"user_id", "password_setup_token"}
    if password:
        r = api.put(f"/api/v1/users/{user['user_id']}/password",
                    json={"password": password, "password_setup_token": user["password_setup_token"]})
        assert r.status_code == 204, r.text
    return user["user_id"], mobile, id_number


def login(api, account, password=PASSWORD):
    return api.post("/api/v1/sessions", json={"method": "password", "account": account, "password": password})

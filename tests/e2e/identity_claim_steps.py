"""The 实名认证 steps of the e2e suites: a card of the development CA naming a person, a claim's body
signed by it, an account registered by a squatter (no card) and taken over, logging in."""
from tests.e2e.certification import new_card, prove
from tests.e2e.enterprise_people import PASSWORD, Person
from tests.factories import new_mobile
from tests.sms import latest_code


def log_in(api, account, password=PASSWORD):
    return api.post("/api/v1/sessions", json={"method": "password", "account": account, "password": password})


def take_over(api, answer):
    """The claimant sets the new account's password and logs in with the ID number."""
    r = api.put(f"/api/v1/users/{answer['user_id']}/password",
                json={"password": PASSWORD, "password_setup_token": answer["password_setup_token"]})
    assert r.status_code == 204, r.text


def card_of(name, id_number):
    return new_card(name, id_number, "91110000100000000X", card_type="operator")


def claim_body(api, card, name, id_number, mobile=None, purpose="identity", token=None):
    mobile = mobile or new_mobile()
    r = api.post("/api/v1/sms-codes", json={"mobile": mobile, "purpose": "register"})
    assert r.status_code == 202, r.text
    return dict(prove(api, token, card, purpose=purpose), name=name, id_number=id_number, mobile=mobile,
                sms_code=latest_code(mobile, "register"))


def register_as(api, name, id_number):
    """A squatter: registers someone else's name and ID number with their own mobile (no card)."""
    mobile = new_mobile()
    r = api.post("/api/v1/sms-codes", json={"mobile": mobile, "purpose": "register"})
    assert r.status_code == 202, r.text
    r = api.post("/api/v1/users", json={"name": name, "id_number": id_number, "mobile": mobile,
                                        "sms_code": latest_code(mobile, "register")})
    assert r.status_code == 201, r.text
    take_over(api, r.json())
    r = log_in(api, mobile)
    assert r.status_code == 201, r.text
    return Person(r.json()["user_id"], r.json()["access_token"], name, mobile, id_number)

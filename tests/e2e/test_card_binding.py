"""Issue 5 end to end through the real chain: the card agent (pyscard) talks to a virtual card
(our emulator in pcscd's vpcd reader) and to the running platform's gateway, which asks the
card, identity and enterprise services. People register with SMS codes from the outbox.

Cards are issued from the platform's own development CA ($EPORT_VAR/card-ca, which the card
service trusts when CARD_CA_CERT is unset).
"""
import base64
import os
import threading
import time

import pytest
import requests

from eport_card.agent import GatewayError, PinBlocked, WrongPin, find_card
from eport_card.agent import login as agent_login
from eport_card.agent.gateway_client import GatewayClient
from eport_card.devca import create_ca
from tests.card.conftest import insert, pcscd, virtual_card, vpcd_reader  # noqa: F401 (fixtures)
from tests.factories import new_id_number
from tests.e2e.card_binding_fixtures import (  # noqa: F401 (fixtures: base, ca, admin, enterprise)
    PIN, SOME_OTHER_USCC, USCC_OF, Person, admin, base, ca, certify_admin, enterprise, find_card_no, gateway_error,
    issue, join, sign_with_card,
)
from tests.support import http_error, refusal

pytestmark = [pytest.mark.e2e, pytest.mark.card, pytest.mark.timeout(300)]



def test_bind_then_log_in_with_the_card(base, ca, tmp_path, insert, admin, enterprise):  # noqa: F811
    assert admin.card_of(enterprise) is None  # 关联企业: not bound yet
    insert(issue(ca, tmp_path, admin, card_type="legal_person", enterprise=enterprise))
    bound = admin.bind(enterprise)
    assert (bound["card_type"], bound["warning"]) == ("legal_person", None)
    assert admin.card_of(enterprise) == {k: bound[k] for k in ("card_no", "card_type", "bound_at")}

    began = time.monotonic()
    session = agent_login(base, PIN, card_timeout=5)  # ICKey 设备登录
    took = time.monotonic() - began
    assert session["user_id"] == admin.user_id and session["token_type"] == "Bearer"
    me = requests.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {session['access_token']}"},
                      timeout=30)
    assert me.status_code == 200 and me.json()["user_id"] == admin.user_id
    assert took < 5


def test_member_with_a_legal_person_card_is_warned_and_the_admin_sees_it(
        base, ca, tmp_path, insert, admin, enterprise):  # noqa: F811 (insert: the card suite's fixture)
    member = Person(base, "李四")
    join(admin, member, enterprise)
    insert(issue(ca, tmp_path, member, card_type="legal_person", enterprise=enterprise))
    bound = member.bind(enterprise)
    assert "操作员卡" in bound["warning"]  # a user should bind an operator card: advice only
    members = admin.call("GET", f"/api/v1/enterprises/{enterprise}/members").json()["items"]
    cards = {m["user_id"]: m["card"] for m in members}
    assert cards[admin.user_id]["card_type"] == "legal_person"  # bound to certify the role (join)
    assert cards[member.user_id]["card_no"] == bound["card_no"]


def test_admin_binding_an_operator_card_is_warned(ca, tmp_path, insert, admin, enterprise):  # noqa: F811
    insert(issue(ca, tmp_path, admin, card_type="operator", enterprise=enterprise))
    assert "法人卡" in admin.bind(enterprise)["warning"]


def test_holder_mismatch_is_refused(base, ca, tmp_path, insert, admin, enterprise):  # noqa: F811
    someone_else = Person(base, "王五")
    insert(issue(ca, tmp_path, someone_else, enterprise=enterprise))
    with pytest.raises(GatewayError) as refused:
        admin.bind(enterprise)
    assert gateway_error(refused) == (422, "CARD_HOLDER_MISMATCH")
    assert refused.value.message.startswith("提示信息不符")
    assert admin.card_of(enterprise) is None


def test_a_card_of_another_enterprise_is_refused(ca, tmp_path, insert, admin, enterprise):  # noqa: F811
    other_enterprise = admin.register_enterprise()  # the same holder administers both
    insert(issue(ca, tmp_path, admin, card_type="legal_person", enterprise=other_enterprise))
    with pytest.raises(GatewayError) as refused:
        admin.bind(enterprise)
    assert gateway_error(refused) == (422, "CARD_ENTERPRISE_MISMATCH")
    assert admin.card_of(enterprise) is None
    assert admin.bind(other_enterprise)["card_type"] == "legal_person"  # where it belongs


def test_same_name_other_id_number_is_a_mismatch(ca, tmp_path, insert, admin, enterprise):  # noqa: F811
    insert(issue(ca, tmp_path, admin, holder_id_number=new_id_number(), enterprise=enterprise))
    with pytest.raises(GatewayError) as refused:
        admin.bind(enterprise)
    assert gateway_error(refused) == (422, "CARD_HOLDER_MISMATCH")


def test_wrong_pin_reports_the_tries_left_and_spends_nothing(ca, tmp_path, insert, admin, enterprise):  # noqa: F811
    insert(issue(ca, tmp_path, admin, enterprise=enterprise))
    with pytest.raises(WrongPin) as wrong:
        admin.bind(enterprise, pin="000000")
    assert wrong.value.tries_left == 4
    with pytest.raises(WrongPin) as wrong:
        admin.bind(enterprise, pin="000000")
    assert wrong.value.tries_left == 3
    assert admin.card_of(enterprise) is None
    assert admin.bind(enterprise)["card_no"]  # the right PIN still works, and refills the counter
    with find_card(timeout=5) as session:
        assert session.pin_tries_left() == 5


def test_blocked_pin_binds_nothing(ca, tmp_path, insert, admin, enterprise):  # noqa: F811
    insert(issue(ca, tmp_path, admin, pin_tries_left=1, enterprise=enterprise))
    with pytest.raises(PinBlocked):
        admin.bind(enterprise, pin="999999")
    with pytest.raises(PinBlocked):
        admin.bind(enterprise)  # the right PIN, too late
    assert admin.card_of(enterprise) is None


def test_replayed_challenge_is_refused(base, ca, tmp_path, insert, admin, enterprise):  # noqa: F811
    other_enterprise = admin.register_enterprise()
    insert(issue(ca, tmp_path, admin, enterprise=enterprise))
    client = GatewayClient(base)
    proof = sign_with_card(admin.call("POST", "/api/v1/card-challenges", json={
        "purpose": "bind", "card_no": find_card_no()}).json())
    assert admin.call("POST", f"/api/v1/enterprises/{enterprise}/card", json=proof).status_code == 201
    assert admin.unbind(enterprise).status_code == 204
    for target in (enterprise, other_enterprise):
        r = admin.call("POST", f"/api/v1/enterprises/{target}/card", json=proof)
        assert refusal(r) == (400, "CHALLENGE_INVALID")

    assert admin.bind(enterprise)["card_no"] == proof["card_no"]
    login_proof = sign_with_card(client.create_challenge("login", proof["card_no"]))
    login_proof.pop("card_no")
    assert client.create_card_session(login_proof)["user_id"] == admin.user_id
    with pytest.raises(GatewayError) as replay:
        client.create_card_session(login_proof)
    assert gateway_error(replay) == (400, "CHALLENGE_INVALID")
    # A login challenge is no bind challenge.
    wrong = sign_with_card(client.create_challenge("login", proof["card_no"]))
    r = admin.call("POST", f"/api/v1/enterprises/{other_enterprise}/card", json=wrong)
    assert refusal(r) == (400, "CHALLENGE_INVALID")


@pytest.fixture
def short_challenges(platform):
    """The card service restarted with 2-second challenges (then restored), so expiry needs no
    two-minute wait."""
    platform.env["CARD_CHALLENGE_TTL"] = "2"
    platform.stop_one("card")
    platform.start_one("card")
    try:
        platform.wait_healthy(60)
        yield 2
    finally:
        platform.env.pop("CARD_CHALLENGE_TTL", None)
        platform.stop_one("card")
        platform.start_one("card")
        platform.wait_healthy(60)


def test_expired_challenge_is_refused(ca, tmp_path, insert, admin, enterprise, short_challenges):  # noqa: F811
    insert(issue(ca, tmp_path, admin, enterprise=enterprise))
    challenge = admin.call("POST", "/api/v1/card-challenges",
                           json={"purpose": "bind", "card_no": find_card_no()}).json()
    assert challenge["expires_in"] == short_challenges
    time.sleep(short_challenges + 0.5)
    proof = sign_with_card(challenge)
    r = admin.call("POST", f"/api/v1/enterprises/{enterprise}/card", json=proof)
    assert refusal(r) == (400, "CHALLENGE_INVALID")
    assert "expired" in http_error(r)["message"]
    assert admin.bind(enterprise)["card_no"] == proof["card_no"]  # a fresh challenge, in time


def test_certificate_from_another_ca_is_untrusted(ca, tmp_path, insert, admin, enterprise):  # noqa: F811
    insert(issue(create_ca("Some Other CA"), tmp_path, admin, enterprise=enterprise))
    with pytest.raises(GatewayError) as refused:
        admin.bind(enterprise)
    assert gateway_error(refused) == (400, "CERTIFICATE_UNTRUSTED")
    assert admin.card_of(enterprise) is None


def test_forged_signature_is_refused(ca, tmp_path, insert, admin, enterprise):  # noqa: F811
    insert(issue(ca, tmp_path, admin, enterprise=enterprise))
    challenge = admin.call("POST", "/api/v1/card-challenges",
                           json={"purpose": "bind", "card_no": find_card_no()}).json()
    proof = sign_with_card(dict(challenge, nonce=base64.b64encode(os.urandom(32)).decode()))  # not the nonce
    r = admin.call("POST", f"/api/v1/enterprises/{enterprise}/card", json=proof)
    assert refusal(r) == (400, "CARD_SIGNATURE_INVALID")
    assert admin.card_of(enterprise) is None


def test_card_already_bound_to_someone_else(base, ca, tmp_path, insert, admin, enterprise):  # noqa: F811
    insert(issue(ca, tmp_path, admin, enterprise=enterprise))
    admin.bind(enterprise)
    other = Person(base, "赵六")
    other_enterprise = other.register_enterprise()
    with pytest.raises(GatewayError) as taken:  # another account holding this card and its PIN
        other.bind(other_enterprise)
    assert gateway_error(taken) == (409, "CARD_ALREADY_BOUND")
    with pytest.raises(GatewayError) as taken:  # the holder's own second enterprise
        admin.bind(admin.register_enterprise())
    assert gateway_error(taken) == (409, "CARD_ALREADY_BOUND")


def test_non_member_cannot_bind(base, ca, tmp_path, insert, admin, enterprise):  # noqa: F811
    outsider = Person(base, "钱七")
    insert(issue(ca, tmp_path, outsider, enterprise=enterprise))
    with pytest.raises(GatewayError) as refused:
        outsider.bind(enterprise)
    assert gateway_error(refused) == (403, "FORBIDDEN")
    uscc = admin.call("GET", f"/api/v1/enterprises/{enterprise}").json()["uscc"]
    assert outsider.call("POST", "/api/v1/associations", json={"uscc": uscc, "role": "user"}).status_code == 202
    with pytest.raises(GatewayError) as pending:  # applied, not approved yet
        outsider.bind(enterprise)
    assert gateway_error(pending) == (403, "FORBIDDEN")


def test_unbind_then_card_login_fails(base, ca, tmp_path, insert, admin, enterprise):  # noqa: F811
    insert(issue(ca, tmp_path, admin, enterprise=enterprise))
    admin.bind(enterprise)
    assert agent_login(base, PIN, card_timeout=5)["user_id"] == admin.user_id
    assert admin.unbind(enterprise).status_code == 204  # 关联企业 → 解除绑定
    assert admin.card_of(enterprise) is None
    with pytest.raises(GatewayError) as refused:
        agent_login(base, PIN, card_timeout=5)
    assert gateway_error(refused) == (401, "INVALID_CREDENTIALS")
    r = admin.unbind(enterprise)
    assert refusal(r) == (404, "CARD_NOT_BOUND")


def test_removed_member_loses_the_card(base, ca, tmp_path, insert, admin, enterprise):  # noqa: F811
    member = Person(base, "孙八")
    join(admin, member, enterprise)
    insert(issue(ca, tmp_path, member, enterprise=enterprise))
    member.bind(enterprise)
    assert agent_login(base, PIN, card_timeout=5)["user_id"] == member.user_id
    assert admin.call("DELETE", f"/api/v1/enterprises/{enterprise}/members/{member.user_id}").status_code == 204
    with pytest.raises(GatewayError) as refused:
        agent_login(base, PIN, card_timeout=5)
    assert gateway_error(refused) == (401, "INVALID_CREDENTIALS")
    # Refused at once (the card service asks enterprise); unbound when MemberRemoved arrives.
    deadline = time.monotonic() + 15
    while member.card_of(enterprise) is not None:
        assert time.monotonic() < deadline, "MemberRemoved did not unbind the card"
        time.sleep(0.1)


def test_two_parallel_binds_of_one_card_exactly_one_wins(base, ca, tmp_path, insert, admin, enterprise):  # noqa: F811
    # A card binds within its own enterprise only, so the race is between binds to one association
    # (tests/integration/test_card_service.py races one card into two associations).
    insert(issue(ca, tmp_path, admin, card_type="legal_person", enterprise=enterprise))
    card_no = find_card_no()
    proofs = [(enterprise, sign_with_card(admin.call("POST", "/api/v1/card-challenges",
                                                     json={"purpose": "bind", "card_no": card_no}).json()))
              for _ in range(4)]
    results, start = [None] * len(proofs), threading.Barrier(len(proofs))

    def post(i, eid, proof):
        http = requests.Session()
        start.wait()
        results[i] = http.post(f"{base}/api/v1/enterprises/{eid}/card", json=proof, timeout=30,
                               headers={"Authorization": f"Bearer {admin.token}"})

    threads = [threading.Thread(target=post, args=(i, eid, proof)) for i, (eid, proof) in enumerate(proofs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201, 409, 409, 409], [r.text for r in results]
    assert {http_error(r)["code"] for r in results if r.status_code == 409} == {"CARD_ALREADY_BOUND"}
    assert admin.card_of(enterprise)["card_no"] == card_no

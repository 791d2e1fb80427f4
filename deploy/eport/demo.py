"""`eport demo`: the manual's whole story against the running platform, printing each step.

Over the gateway's HTTP API (`--gateway`, default http://localhost:8000) as two new people would
go through it, with their SMS codes read from the development SMS outbox, and the IC card part
through the real PC/SC chain: a legal-person card issued from the platform's development CA,
plugged into pcscd's virtual reader by the card emulator, used by the card agent. Needs the
platform of `make run` on this machine (its var/ and the development CA).
"""
import random
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from deploy.sample_identifiers import new_id_number, new_mobile, new_uscc

from .errors import FAILED, OK, CommandError, unavailable

PIN = "123456"
SYSTEMS = ["cargo_declaration", "manifest"]
_SURNAMES, _GIVEN = "王李张刘陈杨黄赵吴周", "伟芳娜敏静丽强磊军洋"


class StepFailed(CommandError):
    pass


def sms_code(mobile, purpose, timeout=10):
    from services.notify.sms import outbox_path, read_outbox

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in read_outbox(outbox_path(), mobile) if m["purpose"] == purpose]
        if found:
            return found[-1]["code"]
        time.sleep(0.1)
    raise StepFailed(f"no SMS code for the {purpose} of {mobile[:3]}****{mobile[-4:]} in {outbox_path()}")


def new_person():
    rng = random.SystemRandom()
    return {"name": rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(_GIVEN),
            "id_number": new_id_number(born=f"{rng.randrange(1960, 2000)}{rng.randrange(1, 13):02d}01"),
            "mobile": new_mobile(), "password": f"Demo-{uuid.uuid4().hex[:12]}"}


class Story:
    def __init__(self, gateway, out):
        import requests
        self.api, self.out, self.n = gateway.rstrip("/") + "/api/v1", out, 0
        self.http = requests.Session()

    def step(self, title, action):
        self.n += 1
        print(f"[{self.n:2}] {title} ...", end=" ", file=self.out, flush=True)
        result = action()
        print(f"ok: {result}" if result else "ok", file=self.out, flush=True)

    def call(self, method, path, expect, token=None, **kw):
        import requests
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            r = self.http.request(method, self.api + path, headers=headers, timeout=30, **kw)
        except requests.ConnectionError:
            raise unavailable(f"no gateway at {self.api} (is `make run` running?)") from None
        if r.status_code != expect:
            raise StepFailed(f"{method} {path} answered {r.status_code}, not {expect}: {r.text[:300]}")
        return r.json() if r.content else None

    def eventually(self, what, check, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            time.sleep(0.2)
        raise StepFailed(f"{what} did not happen within {timeout} s")


def register(story, who, person):
    def go():
        story.call("POST", "/sms-codes", 202, json={"mobile": person["mobile"], "purpose": "register"})
        made = story.call("POST", "/users", 201, json={
            "name": person["name"], "id_number": person["id_number"], "mobile": person["mobile"],
            "sms_code": sms_code(person["mobile"], "register")})
        person["user_id"] = made["user_id"]
        story.call("PUT", f"/users/{made['user_id']}/password", 204,
                   json={"password": person["password"], "password_setup_token": made["password_setup_token"]})
        login_password(story, person)
        me = story.call("GET", "/me", 200, token=person["token"])
        return f"user {made['user_id']}, logged in by password; /me shows {me['mobile_masked']}"
    story.step(f"{who} registers with ID number, mobile and an SMS code, then sets a password", go)


def login_password(story, person):
    person["token"] = story.call("POST", "/sessions", 201, json={
        "method": "password", "account": person["mobile"], "password": person["password"]})["access_token"]


def run(args, out):
    from services.common.settings import setting
    story = Story(args.gateway or setting("EPORT_GATEWAY"), out)
    admin, member = new_person(), new_person()
    uscc = new_uscc()
    register(story, "The administrator", admin)
    story.step("The administrator logs in by mobile and SMS code", lambda: sms_login(story, admin))
    enterprise = {}
    story.step("The registry does not know the enterprise; the administrator registers it by hand",
               lambda: register_enterprise(story, admin, uscc, enterprise))
    card = CardChain(args.card_timeout) if not args.no_card else None
    try:
        if card:
            story.step("A legal-person IC card is issued to the administrator and inserted in the reader",
                       lambda: card.insert(admin, uscc))
            story.step("The card agent binds the card to the enterprise (PIN on the card)",
                       lambda: card.bind(story, admin, enterprise["id"]))
            story.step("The administrator logs in with the card", lambda: card.login(story, admin))
        register(story, "A colleague", member)
        story.step("The colleague applies to join the enterprise as a user",
                   lambda: apply(story, member, uscc, enterprise))
        story.step("The administrator finds the request in the message inbox",
                   lambda: inbox(story, admin, "association_requested"))
        story.step("The administrator approves it", lambda: approve(story, admin, enterprise))
        story.step("The colleague's inbox says so", lambda: inbox(story, member, "association_approved"))
        story.step("The administrator grants the colleague business systems",
                   lambda: grant(story, admin, member, enterprise))
        story.step("The colleague checks a permission", lambda: check(story, member, enterprise))
        story.step("The administrator hands the administrator role to the colleague",
                   lambda: transfer(story, admin, member, enterprise))
        if card:
            story.step("The former administrator unbinds the card", lambda: card.unbind(story, admin, enterprise["id"]))
        story.step("The colleague forgot the password and resets it by SMS code", lambda: reset(story, member))
        story.step("The administrator logs out", lambda: logout(story, admin))
        story.step("The auditor reads the enterprise's trail (eport audit, over AMQP)",
                   lambda: audit_trail(story, enterprise))
    except StepFailed as exc:
        print("failed", file=out)
        raise CommandError(f"step {story.n}: {exc}", FAILED) from None
    finally:
        if card:
            card.close()
    print(f"the whole story ran: {story.n} steps", file=out)
    return OK


def sms_login(story, person):
    story.call("POST", "/sms-codes", 202, json={"mobile": person["mobile"], "purpose": "login"})
    story.call("POST", "/sessions", 201, json={"method": "sms", "mobile": person["mobile"],
                                               "sms_code": sms_code(person["mobile"], "login")})
    return "a second session"


def register_enterprise(story, admin, uscc, enterprise):
    story.call("GET", f"/enterprise-registry/{uscc}", 404, token=admin["token"])
    made = story.call("POST", "/associations", 201, token=admin["token"], json={
        "uscc": uscc, "role": "admin", "name": f"杭州演示{uuid.uuid4().hex[:4]}贸易有限公司",
        "address": "浙江省杭州市西湖区文三路90号", "business_scope": "货物进出口；技术进出口"})
    enterprise["id"] = made["enterprise_id"]
    return f"enterprise {made['enterprise_id']} (USCC {uscc})"


def apply(story, member, uscc, enterprise):
    made = story.call("POST", "/associations", 202, token=member["token"], json={"uscc": uscc, "role": "user"})
    enterprise["request"] = made["association_id"]
    return f"association {made['association_id']}, {made.get('status')}"


def inbox(story, person, kind):
    def arrived():
        items = story.call("GET", "/messages?unread=true", 200, token=person["token"])["items"]
        return [m for m in items if m["kind"] == kind]
    return f"{kind}: “{story.eventually(f'a {kind} message', arrived)[0]['title']}”"


def approve(story, admin, enterprise):
    story.call("POST", f"/association-requests/{enterprise['request']}/approve", 200, token=admin["token"])
    members = story.call("GET", f"/enterprises/{enterprise['id']}/members", 200, token=admin["token"])
    return f"{len(members['items'])} members"


def grant(story, admin, member, enterprise):
    story.call("PUT", f"/enterprises/{enterprise['id']}/members/{member['user_id']}/permissions", 200,
               token=admin["token"], json={"systems": SYSTEMS})
    return ", ".join(SYSTEMS)


def check(story, member, enterprise):
    answer = story.call("GET", f"/authz/check?user_id={member['user_id']}&enterprise_id={enterprise['id']}"
                        f"&system=manifest", 200, token=member["token"])
    if not answer.get("allowed"):
        raise StepFailed(f"manifest is not allowed: {answer}")
    return "manifest allowed"


def transfer(story, admin, member, enterprise):
    story.call("PUT", f"/enterprises/{enterprise['id']}/admin", 200, token=admin["token"],
               json={"user_id": member["user_id"]})
    return "the colleague administers it now"


def reset(story, person):
    story.call("POST", "/sms-codes", 202, json={"mobile": person["mobile"], "purpose": "reset_password"})
    person["password"] = f"Demo-{uuid.uuid4().hex[:12]}"
    story.call("POST", "/password-resets", 204, json={"mobile": person["mobile"], "new_password": person["password"],
                                                      "sms_code": sms_code(person["mobile"], "reset_password")})
    login_password(story, person)
    return "logged in with the new password"


def logout(story, person):
    story.call("DELETE", "/sessions/current", 204, token=person["token"])
    story.call("GET", "/me", 401, token=person["token"])
    return "its token is refused now"


def audit_trail(story, enterprise):
    from .audit import fetch
    items = story.eventually("the trail", lambda: [i for i in fetch(True, enterprise_id=enterprise["id"], limit=100)
                                                   if i["event_type"] == "AdminTransferred"])
    kinds = [i["event_type"] for i in reversed(fetch(True, enterprise_id=enterprise["id"], limit=100))]
    return f"{len(kinds)} events: {', '.join(dict.fromkeys(kinds))}" if items else None


def _agents_slot():
    """(reader, vpcd port) the agent will look in: CARD_READER's slot when it names one, else the first."""
    from deploy import pcsc
    from services.common.settings import setting
    slots = [pcsc.vpcd_slot(n) for n in (0, 1)]
    return next((slot for slot in slots if slot[0] == setting("CARD_READER")), slots[0])


class CardChain:
    """pcscd (started if none runs), the emulator's virtual card, the card agent."""

    def __init__(self, timeout):
        self.timeout, self.daemon, self.virtual_card = timeout, None, None
        self.dir = tempfile.mkdtemp(prefix="eport-demo-")

    def insert(self, admin, uscc):
        from deploy import pcsc
        from eport_card.devca import issue_card, load_ca
        from eport_card.emulator import VirtualCard
        from services.card.trust import ensure_dev_ca
        try:
            self.daemon = pcsc.start(timeout=15)
        except RuntimeError as exc:
            raise unavailable(f"{exc} (`eport demo --no-card` skips the card)") from None
        card_no = f"88{random.SystemRandom().randrange(10 ** 11):011d}"
        image = Path(self.dir) / "card.json"
        issue_card(load_ca(ensure_dev_ca()), card_no=card_no, card_type="legal_person", holder_name=admin["name"],
                   holder_id_number=admin["id_number"], uscc=uscc, pin=PIN).save(image)
        reader, port = _agents_slot()
        self.virtual_card = VirtualCard(port=port)
        self.virtual_card.insert(image)
        return f"card {card_no} in {reader}"

    def bind(self, story, admin, enterprise_id):
        from eport_card.agent import bind
        bound = bind(story.api.rsplit("/api/v1", 1)[0], admin["token"], enterprise_id, PIN, card_timeout=self.timeout)
        return f"{bound['card_type']} card {bound['card_no']} bound"

    def login(self, story, admin):
        from eport_card.agent import login
        session = login(story.api.rsplit("/api/v1", 1)[0], PIN, card_timeout=self.timeout)
        if session["user_id"] != admin["user_id"]:
            raise StepFailed("the card logged in someone else")
        admin["token"] = session["access_token"]
        return "a session for the card's holder"

    def unbind(self, story, admin, enterprise_id):
        story.call("DELETE", f"/enterprises/{enterprise_id}/card", 204, token=admin["token"])
        return "unbound"

    def close(self):
        if self.virtual_card is not None:
            self.virtual_card.remove()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.daemon is not None:
            self.daemon.stop()  # only one it started


def add_parser(sub):
    p = sub.add_parser("demo", help="the manual's whole story against the running platform, card included")
    p.add_argument("--gateway", help="the gateway's URL (default EPORT_GATEWAY, else http://localhost:8000)")
    p.add_argument("--no-card", action="store_true", help="leave out the IC card (no PC/SC chain here)")
    p.add_argument("--card-timeout", type=float, default=10.0, help="seconds to wait for the card in the reader")
    p.set_defaults(run=run)

"""Fakes of each service's `peers.py` (services/<service>/peers.py), all of one shape: what the peer
would answer is held in dicts the test fills, what was asked is recorded in lists the test reads.
A service's application takes them where it takes its `Peers`."""
import uuid

from contracts import errors as e
from contracts.errors import ServiceError

HOLDER = {"holder_name": "张三", "holder_id_number": "11010519491231002X"}
USCC = "91350100M000100Y43"


class FakeCardPeers:
    """services/card/peers.py's: enterprise.membership and identity.holder_matches / start_card_session
    from dicts, certify_card recorded."""

    def __init__(self):
        self.members = {}  # (user_id, enterprise_id) -> membership
        self.holders = {}  # user_id -> (name, id_number)
        self.sessions = []
        self.certified = []  # certify_card calls

    def add(self, user_id, enterprise_id, role="admin", status="approved", holder=HOLDER, uscc=None):
        uscc = uscc or USCC
        self.members[(user_id, enterprise_id)] = {"association_id": str(uuid.uuid4()), "role": role,
                                                  "status": status, "uscc": uscc}
        self.holders[user_id] = (holder["holder_name"], holder["holder_id_number"])
        return self.members[(user_id, enterprise_id)]

    def membership(self, user_id, enterprise_id):
        return self.members.get((user_id, enterprise_id))

    def holder_matches(self, user_id, holder_name, holder_id_number):
        return self.holders.get(user_id) == (holder_name, holder_id_number)

    def start_card_session(self, user_id, card_no):
        self.sessions.append((user_id, card_no))
        return {"access_token": f"token-{user_id}", "token_type": "Bearer", "expires_in": 3600, "user_id": user_id}

    def certify_card(self, user_id, enterprise_id, association_id, card_no, card_type, uscc):
        """As the enterprise service: a legal-person card bound by the administrator certifies the role."""
        membership = self.members[(user_id, enterprise_id)]
        assert (membership["association_id"], membership["uscc"]) == (association_id, uscc)
        self.certified.append((user_id, enterprise_id, card_no, card_type))
        return {"certified": True, "role_certified": membership["role"] == "admin" and card_type == "legal_person"}


class FakeEnterprisePeers:
    """services/enterprise/peers.py's: identity's names of users from a dict, the asked ids recorded."""

    def __init__(self, names=None):
        self.names = dict(names or {})  # user_id -> name
        self.asked = []

    def user_name(self, user_id):
        self.asked.append(user_id)
        return self.names.get(user_id)


class FakeNotifyPeers:
    """services/notify/peers.py's: enterprise's names of enterprises from a dict (an unknown one: None,
    as enterprise's ENTERPRISE_NOT_FOUND), the asked ids recorded; `away` makes it answer 503."""

    def __init__(self, names=None):
        self.names = dict(names or {})  # enterprise_id -> name
        self.asked = []
        self.away = False

    def enterprise_name(self, enterprise_id):
        self.asked.append(enterprise_id)
        if self.away:
            raise ServiceError(e.SERVICE_UNAVAILABLE, "enterprise did not answer in time")
        return self.names.get(enterprise_id)


class FakeIdentityPeers:
    """services/identity/peers.py's: enterprise.admin_has_members from a set, the asked ids recorded;
    each SMS handed to notify recorded in `sms` (send_sms's keywords), each mobile forgotten in `forgotten`."""

    def __init__(self, administering=()):
        self.administering = set(administering)  # user ids that administer an enterprise with other members
        self.asked = []
        self.sms = []
        self.forgotten = []

    def admin_has_members(self, user_id):
        self.asked.append(user_id)
        return user_id in self.administering

    def send_sms(self, mobile, purpose, code, text, deliver):
        self.sms.append({"mobile": mobile, "purpose": purpose, "code": code, "text": text, "deliver": deliver})

    def forget_mobile(self, mobile):
        self.forgotten.append(mobile)

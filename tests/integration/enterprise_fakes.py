"""Test doubles shared by the enterprise and inbox integration tests.

`FakeIdentity` answers the identity RPCs the enterprise service and the gateway call
(revoked_sessions, get_user, get_users) from a dict; bearer tokens are signed by tests/tokens.py.
The e2e tests use the real identity service instead.
"""
import uuid

from contracts import errors as e
from contracts.errors import ServiceError
from contracts.masking import mask_mobile
from services.common.rpc import rpc
from services.notify.service import InboxEntrypoints
from tests.tokens import IdentityStandIn, token_for


class FakeIdentity(IdentityStandIn):
    users = {}  # user_id -> get_user answer; class-level so the test can add people
    asked = []  # the user ids get_user was asked for

    @classmethod
    def add(cls, name="张三"):
        user_id = str(uuid.uuid4())
        cls.users[user_id] = {"user_id": user_id, "name": name, "id_type": "resident_id",
                              "id_number_masked": "110105********002X", "mobile_masked": mask_mobile("13306506117")}
        return user_id

    @staticmethod
    def token(user_id):
        return token_for(user_id)

    @rpc
    def get_user(self, user_id):
        self.asked.append(user_id)
        if user_id not in self.users:
            raise ServiceError(e.USER_NOT_FOUND, "No such user.")
        return self.users[user_id]

    @rpc
    def get_users(self, user_ids):
        return {u: self.users[u] for u in user_ids if u in self.users}


class InboxOnlyNotify(InboxEntrypoints):
    """The notify service without its SMS half."""
    name = "notify"

    @rpc
    def ping(self):
        return "pong"

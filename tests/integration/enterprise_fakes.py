"""Test doubles shared by the enterprise and inbox integration tests.

`FakeIdentity` answers the identity RPCs the enterprise service and the gateway call
(authenticate, get_user, get_users) from a dict: a user's bearer token is "token-<user_id>".
The e2e tests use the real identity service instead.
"""
import uuid

from contracts import errors as e
from contracts.errors import ServiceError
from contracts.masking import mask_mobile
from services.common.rpc import rpc
from services.notify.inbox_entrypoints import InboxEntrypoints


class FakeIdentity:
    name = "identity"
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
        return f"token-{user_id}"

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def authenticate(self, token):
        user_id = token.removeprefix("token-")
        if user_id not in self.users:
            raise ServiceError(e.UNAUTHENTICATED, "Unknown token.")
        return {"user_id": user_id, "session_id": "session-" + user_id}

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

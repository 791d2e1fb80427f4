"""The command id of each state-changing request, sent to the owning services in the RPC context
data under `context.COMMAND_ID` (services/common/context.py; services/common/commands.py
remembers each command's answer under it).

With an `Idempotency-Key` the id is derived from the key, the caller and the endpoint, so the
client's retry finds the first answer; without one it is new for each request, so only the broker's
redelivery of this very request (its service died before replying) finds it. The caller is the
token's user, or for an anonymous call the first of the body's fields that names the account
(mobile, account), else the path's user, else the card's challenge or number: two anonymous
people using the same key do not see each other's answers.
"""
import hashlib
import uuid

from contracts.errors import ValidationFailed
from services.common.context import COMMAND_ID, RequestContext

HEADER = "Idempotency-Key"
METHODS = ("POST", "PUT", "DELETE")
ANONYMOUS_CALLER_FIELDS = ("mobile", "account", "user_id", "challenge_id", "card_no")


def idempotency_key(request):
    """The request's key, None without one; 400 naming the header when it is not 1 to 128 visible
    ASCII characters."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 128 or not all("!" <= ch <= "~" for ch in key):
        raise ValidationFailed(details={HEADER: ["Must be 1 to 128 visible ASCII characters."]})
    return key


def caller(actor, body, path_params):
    if actor is not None:
        return "user:" + actor.user_id
    for name in ANONYMOUS_CALLER_FIELDS:
        value = (body or {}).get(name) if isinstance(body, dict) else None
        value = value or path_params.get(name)
        if isinstance(value, str) and value:
            return f"{name}:{value.strip()}"
    return "anonymous"


def command_id(key, caller_, method, path):
    if key is None:
        return "request:" + uuid.uuid4().hex
    # hashed: a mobile would otherwise travel in every header of the request's RPC calls
    return "key:" + hashlib.sha256(f"{caller_}\n{method} {path}\n{key}".encode()).hexdigest()


class _Commands:
    def __init__(self, context_data):
        self.context_data = context_data

    def begin(self, request, method, path, actor, body, path_params):
        """Give this request its command id (validated key first); a no-op for GET."""
        if method not in METHODS:
            return
        key = idempotency_key(request)
        self.context_data[COMMAND_ID] = command_id(key, caller(actor, body, path_params), method, path)


class CommandIds(RequestContext):
    """`commands = CommandIds()` on the gateway: `self.commands.begin(...)` in the route wrapper puts
    the command id into the worker's context data beside the correlation id (gateway/http.py), and
    nameko sends both on with every RPC request of the worker."""

    def get_dependency(self, worker_ctx):
        return _Commands(super().get_dependency(worker_ctx))

"""Who may call which enterprise and message endpoint: every endpoint × {anonymous, non-member,
pending applicant, approved user, administrator of another enterprise, administrator}.

One platform and one enterprise world for the whole module. Cells that succeed and change state
(applying, approving, transferring, removing) act on fresh objects of the same kind, so that the
other cells see the world as it was built.
"""
from dataclasses import dataclass

import pytest

from tests.e2e.enterprise_people import apply, approve, messages, register, register_enterprise, wait_for
from tests.support import http_error

pytestmark = pytest.mark.e2e

ACTORS = ("anonymous", "non_member", "pending", "approved_user", "other_admin", "admin")
REGISTRY_USCC = "9133010874936536XP"  # in services/enterprise/data/registry.json, never registered here


@dataclass
class World:
    api: object
    people: dict
    eid: str
    uscc: str
    request_id: str  # a pending request of someone else, for the refused decisions
    message_id: str  # one of the administrator's messages

    def token(self, actor):
        return None if actor == "anonymous" else self.people[actor].token

    def fresh_request(self):
        """A new pending request on the enterprise, for a decision that will succeed."""
        return apply(self.api, register(self.api), self.uscc)

    def fresh_enterprise_with_member(self):
        """A new enterprise with its administrator and an approved member, for a transfer or removal."""
        admin, member = register(self.api), register(self.api)
        eid, uscc = register_enterprise(self.api, admin)
        approve(self.api, admin, apply(self.api, member, uscc))
        return admin, eid, member


@pytest.fixture(scope="module")
def world(api):
    people = {name: register(api) for name in ACTORS[1:]}
    eid, uscc = register_enterprise(api, people["admin"])
    register_enterprise(api, people["other_admin"])
    approve(api, people["admin"], apply(api, people["approved_user"], uscc))
    apply(api, people["pending"], uscc)
    request_id = apply(api, register(api), uscc)
    msg = wait_for(lambda: messages(api, people["admin"])["items"])[0]
    return World(api, people, eid, uscc, request_id, msg["message_id"])


def _registry(w, actor):
    return w.api.get(f"/api/v1/enterprise-registry/{REGISTRY_USCC}", token=w.token(actor))


def _associate(w, actor):
    token = w.token(actor)
    if actor == "non_member":
        token = register(w.api).token  # a fresh one: applying makes it a pending applicant
    elif actor == "other_admin":
        other = register(w.api)
        register_enterprise(w.api, other)
        token = other.token
    return w.api.post("/api/v1/associations", token=token, json={"uscc": w.uscc, "role": "user"})


def _enterprise(w, actor):
    return w.api.get(f"/api/v1/enterprises/{w.eid}", token=w.token(actor))


def _members(w, actor):
    return w.api.get(f"/api/v1/enterprises/{w.eid}/members", token=w.token(actor))


def _requests(w, actor):
    return w.api.get(f"/api/v1/enterprises/{w.eid}/association-requests?status=pending", token=w.token(actor))


def _decide(verb):
    def cell(w, actor):
        target = w.fresh_request() if actor == "admin" else w.request_id
        return w.api.post(f"/api/v1/association-requests/{target}/{verb}", token=w.token(actor), json={})
    return cell


def _transfer(w, actor):
    if actor == "admin":
        admin, eid, member = w.fresh_enterprise_with_member()
        return w.api.put(f"/api/v1/enterprises/{eid}/admin", token=admin.token, json={"user_id": member.user_id})
    return w.api.put(f"/api/v1/enterprises/{w.eid}/admin", token=w.token(actor),
                     json={"user_id": w.people["approved_user"].user_id})


def _remove(w, actor):
    if actor == "admin":
        admin, eid, member = w.fresh_enterprise_with_member()
        return w.api.delete(f"/api/v1/enterprises/{eid}/members/{member.user_id}", token=admin.token)
    return w.api.delete(f"/api/v1/enterprises/{w.eid}/members/{w.people['approved_user'].user_id}",
                        token=w.token(actor))


def _messages(w, actor):
    return w.api.get("/api/v1/messages?unread=true", token=w.token(actor))


def _read(w, actor):
    return w.api.post(f"/api/v1/messages/{w.message_id}/read", token=w.token(actor))


def _me(w, actor):
    return w.api.get("/api/v1/me", token=w.token(actor))


#             anonymous non_member pending approved_user other_admin admin
MATRIX = {
    "GET registry":            (_registry,        (401, 200, 200, 200, 200, 200)),
    "POST associations":       (_associate,       (401, 202, 409, 409, 202, 409)),
    "GET enterprise":          (_enterprise,      (401, 403, 403, 200, 403, 200)),
    "GET members":             (_members,         (401, 403, 403, 403, 403, 200)),
    "GET association-requests": (_requests,       (401, 403, 403, 403, 403, 200)),
    "POST approve":            (_decide("approve"), (401, 403, 403, 403, 403, 200)),
    "POST reject":             (_decide("reject"),  (401, 403, 403, 403, 403, 200)),
    "PUT admin":               (_transfer,        (401, 403, 403, 403, 403, 200)),
    "DELETE member":           (_remove,          (401, 403, 403, 403, 403, 204)),
    "GET messages":            (_messages,        (401, 200, 200, 200, 200, 200)),
    "POST message read":       (_read,            (401, 404, 404, 404, 404, 204)),
    "GET me":                  (_me,              (401, 200, 200, 200, 200, 200)),
}
CODES = {401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "MESSAGE_NOT_FOUND", 409: "ALREADY_ASSOCIATED"}
CELLS = [pytest.param(endpoint, actor, expected[i], id=f"{endpoint}|{actor}")
         for endpoint, (_, expected) in MATRIX.items() for i, actor in enumerate(ACTORS)]


@pytest.mark.parametrize("endpoint,actor,expected", CELLS)
def test_authorization(world, endpoint, actor, expected):
    r = MATRIX[endpoint][0](world, actor)
    assert r.status_code == expected, f"{endpoint} as {actor}: {r.status_code} {r.text}"
    if expected >= 400:
        assert http_error(r)["code"] == CODES[expected]


def test_refused_cells_changed_nothing(world):
    """After the whole matrix: the administrator, the members and the pending requests are as built."""
    w = world
    ent = w.api.get(f"/api/v1/enterprises/{w.eid}", token=w.people["admin"].token).json()
    assert ent["admin_user_id"] == w.people["admin"].user_id
    members = w.api.get(f"/api/v1/enterprises/{w.eid}/members", token=w.people["admin"].token).json()["items"]
    ids = {m["user_id"] for m in members}  # plus the applicant whose fresh request the admin's cell approved
    assert {w.people["admin"].user_id, w.people["approved_user"].user_id} <= ids
    assert not ids & {w.people[a].user_id for a in ("non_member", "pending", "other_admin")}
    assert {m["user_id"]: m["role"] for m in members}[w.people["admin"].user_id] == "admin"
    pending = w.api.get(f"/api/v1/enterprises/{w.eid}/association-requests?status=pending",
                        token=w.people["admin"].token).json()["items"]
    assert w.request_id in {p["association_id"] for p in pending}
    assert w.people["pending"].user_id in {p["user_id"] for p in pending}

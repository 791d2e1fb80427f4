"""消息提醒 of permissions on the launched platform: a grant or a revocation by the administrator
leaves one message per business system that changed, in the member's inbox only, naming the
enterprise and the system; saving the same set again tells nobody anything."""
import pytest

from tests.e2e.enterprise_people import MANUAL, apply, approve, messages, register, register_enterprise, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]
KINDS = ("permission_granted", "permission_revoked")


def told(api, person):
    return [m for m in messages(api, person)["items"] if m["kind"] in KINDS]


def test_grants_and_revocations_are_told_once_to_the_member_alone(api):
    admin, member, colleague = register(api), register(api), register(api)
    eid, uscc = register_enterprise(api, admin)
    for person in (member, colleague):
        approve(api, admin, apply(api, person, uscc))
    names = {s["code"]: s["name"] for s in api.get("/api/v1/systems").json()["items"]}
    first, second = list(names)[:2]

    def save(systems):
        r = api.put(f"/api/v1/enterprises/{eid}/members/{member.user_id}/permissions", token=admin.token,
                    json={"systems": systems})
        assert r.status_code == 200, r.text

    save([first, second])
    wait_for(lambda: len(told(api, member)) == 2)
    save([first, second])  # the same set: no change, no message
    save([first])
    wait_for(lambda: len(told(api, member)) == 3)
    messages_of_member = told(api, member)
    assert sorted((m["kind"], m["data"]["system"]) for m in messages_of_member) == sorted(
        [("permission_granted", first), ("permission_granted", second), ("permission_revoked", second)])
    for m in messages_of_member:
        assert f"“{MANUAL['name']}”" in m["body"] and f"“{names[m['data']['system']]}”" in m["body"], m
        assert m["data"]["enterprise_id"] == eid and m["data"]["system_name"] == names[m["data"]["system"]]
    assert told(api, admin) == [] and told(api, colleague) == []
    assert messages(api, member)["unread_count"] == 4  # the approval and the three above

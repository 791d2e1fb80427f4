"""我的工作台 shows, per enterprise, the business systems the person may use (authz decides which:
an administrator's are all of them once the role is certified), and 消息提醒 tells the member of
each grant and revocation."""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.enterprise_people import MANUAL, apply, approve, messages, register_enterprise, wait_for
from tests.e2e.enterprise_people import register as register_over_api

from .helpers import panel
from .helpers import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def told(api, person, kind):
    return [m for m in messages(api, person)["items"] if m["kind"] == kind]


def test_a_member_sees_the_systems_granted_and_is_told_of_each_change(browser_of, api):
    admin, member = register_over_api(api, "钱六"), register_over_api(api, "孙七")
    eid, uscc = register_enterprise(api, admin)
    approve(api, admin, apply(api, member, uscc))
    names = {s["code"]: s["name"] for s in api.get("/api/v1/systems").json()["items"]}
    first, second = list(names)[:2]
    permissions = f"/api/v1/enterprises/{eid}/members/{member.user_id}/permissions"
    r = api.put(permissions, token=admin.token, json={"systems": [first, second]})
    assert r.status_code == 200, r.text
    wait_for(lambda: len(told(api, member, "permission_granted")) == 2)

    screens = browser_of()
    page = log_in(screens, member)
    systems = panel(page, MANUAL["name"]).locator("tr", has_text="业务系统")
    expect(systems).to_contain_text(names[first])
    screens.shot("46-workbench-systems")
    expect(systems.get_by_role("listitem")).to_have_text([names[first], names[second]])
    expect(systems).not_to_contain_text(names[list(names)[2]])

    page.get_by_role("link", name=re.compile("^消息提醒")).click()
    granted = page.get_by_role("listitem").filter(has_text="已获得业务系统权限")
    expect(granted).to_have_count(2)
    expect(granted.filter(has_text=f"“{names[second]}”")).to_contain_text(f"“{MANUAL['name']}”")
    screens.shot("47-permission-messages")

    # revoked: said in the inbox, and gone from the workbench
    r = api.put(permissions, token=admin.token, json={"systems": [first]})
    assert r.status_code == 200, r.text
    wait_for(lambda: told(api, member, "permission_revoked"))
    page.reload()
    revoked = page.get_by_role("listitem").filter(has_text="业务系统权限已撤销")
    expect(revoked).to_contain_text(f"企业管理员已撤销您在企业“{MANUAL['name']}”的业务系统“{names[second]}”的操作权限")
    page.get_by_role("link", name="关联企业").click()
    expect(systems.get_by_role("listitem")).to_have_text([names[first]])

    # the certified administrator: every system, without grants
    theirs = browser_of()
    their = log_in(theirs, admin)
    expect(panel(their, MANUAL["name"]).locator("tr", has_text="业务系统").get_by_role("listitem")).to_have_text(
        list(names.values()))
    theirs.shot("48-administrator-systems")

"""角色认证 in the browser: what an uncertified administrator is told and not offered (审核通过, 拒绝
disabled with the reason and the way out, no members, the reminder left unread), certifying the role
by binding the legal-person card, editing what was typed by hand, and the legal person claiming the
role from someone who registered the enterprise first, with details of their own (the card agent's
local mode and the emulator)."""
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.enterprise_people import CLAIMED, MANUAL, unknown_uscc
from tests.e2e.enterprise_people import register as register_over_api

from .helpers import associate_form, bind_card, enter_pin, field_error, panel
from .helpers import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.card, pytest.mark.timeout(180)]

NOT_YET = "企业管理员角色尚未认证，暂不能查看申请人或审核"


def by_hand(api, person, uscc):
    r = api.post("/api/v1/associations", token=person.token, json={"uscc": uscc, "role": "admin", **MANUAL})
    assert r.status_code == 201, r.text
    return r.json()["enterprise_id"]


def test_an_uncertified_administrator_is_told_what_is_blocked_then_certifies_with_the_card(
        browser_of, api, insert, issue_card_of):
    admin, member, later = (register_over_api(api, name) for name in ("孙九", "吴十", "陈八"))
    uscc = unknown_uscc()
    by_hand(api, admin, uscc)
    r = api.post("/api/v1/associations", token=member.token, json={"uscc": uscc, "role": "user"})
    assert r.status_code == 202, r.text

    screens = browser_of()
    page = log_in(screens, admin)
    mine = panel(page, MANUAL["name"])
    expect(mine.locator("tr", has_text="角色认证")).to_contain_text("未认证")
    expect(mine.get_by_role("note")).to_contain_text("不能审核关联申请、分配业务权限、变更企业管理员账号")
    expect(mine.get_by_role("note")).to_contain_text("插入本企业的法人卡")
    screens.shot("30-role-uncertified")

    expect(page.get_by_role("button", name="法人卡认证企业管理员")).to_have_count(0)  # their own role: 绑定
    expect(mine.get_by_role("button", name="修改企业信息")).to_have_count(0)

    # not offered: deciding the request (disabled, why, the way out; nobody's name), granting (no members)
    page.get_by_role("link", name="消息提醒").click()
    request = page.get_by_role("listitem").filter(has_text="企业关联申请待审核").first
    expect(request.get_by_role("button", name="审核通过")).to_be_disabled()
    expect(request.get_by_role("button", name="拒绝")).to_be_disabled()
    expect(request).to_contain_text(NOT_YET)
    expect(request.get_by_role("button", name="去绑定法人卡")).to_be_visible()
    expect(request).not_to_contain_text("吴十")
    screens.shot("31-uncertified-approve-disabled")
    page.get_by_role("link", name="企业权限管理").click()
    expect(page.get_by_role("note")).to_contain_text("企业管理员角色尚未认证")
    expect(page.get_by_text("角色认证后，可在此查看本企业成员并分配业务系统权限")).to_be_visible()
    expect(page.get_by_role("group", name="成员：吴十")).to_have_count(0)
    expect(page.get_by_role("checkbox")).to_have_count(0)
    screens.shot("32-uncertified-no-members")
    unread = api.get("/api/v1/messages?unread=true", token=admin.token).json()["items"]
    assert [m["kind"] for m in unread] == ["association_requested"]  # the reminder is kept

    # the legal-person card certifies the role; then the approval goes through
    card_no, image = issue_card_of(admin.name, admin.id_number, uscc)
    insert(image)
    page.get_by_role("link", name="关联企业").click()
    bind_card(screens, MANUAL["name"], card_no)
    expect(mine.get_by_role("status")).to_have_text("绑定成功，企业管理员角色认证已完成")
    expect(mine.locator("tr", has_text="角色认证")).to_contain_text("已认证")
    expect(mine.get_by_role("note")).to_have_count(0)
    screens.shot("33-role-certified")
    page.get_by_role("link", name="消息提醒").click()
    request = page.get_by_role("listitem").filter(has_text="申请人：吴十").first
    request.get_by_role("button", name="审核通过").click()
    expect(request.get_by_role("status")).to_have_text("已审核通过")

    # 企业权限管理: the approved member has the systems to tick; one still 待审核 has none yet
    r = api.post("/api/v1/associations", token=later.token, json={"uscc": uscc, "role": "user"})
    assert r.status_code == 202, r.text
    page.get_by_role("link", name="企业权限管理").click()
    expect(page.get_by_role("group", name="成员：吴十").get_by_role("checkbox", name="舱单申报")).to_have_count(1)
    waiting = page.get_by_role("group", name="成员：陈八")
    expect(waiting).to_contain_text("关联申请待审核：审核通过后可分配业务系统权限")
    expect(waiting.get_by_role("checkbox")).to_have_count(0)
    expect(waiting.get_by_role("button", name="保存")).to_have_count(0)
    screens.shot("34-permissions-pending-no-systems")

    # 修改企业信息: what was typed by hand, corrected by the certified administrator
    page.get_by_role("link", name="关联企业").click()
    mine.get_by_role("button", name="修改企业信息").click()
    dialog = page.get_by_role("dialog", name="修改企业信息")
    dialog.get_by_label("企业名称").fill("杭州更正贸易有限公司")
    screens.shot("35-edit-enterprise")
    dialog.get_by_role("button", name="保存").click()
    renamed = panel(page, "杭州更正贸易有限公司")
    expect(renamed.get_by_role("status")).to_have_text("企业信息已保存")
    expect(renamed).to_contain_text(MANUAL["address"])


def panel_enterprise_id(api, person, uscc):
    me = api.get("/api/v1/me", token=person.token).json()
    return next(a["enterprise_id"] for a in me["associations"] if a["uscc"] == uscc)


def test_the_legal_person_claims_the_role_from_an_uncertified_administrator(browser_of, api, insert, issue_card_of):
    squatter, holder = register_over_api(api, "郑一"), register_over_api(api, "冯二")
    uscc = unknown_uscc()
    by_hand(api, squatter, uscc)

    screens = browser_of()
    page = log_in(screens, holder)
    form = associate_form(page)
    form.locator(".el-radio", has_text="企业管理员").click()
    form.get_by_label("统一社会信用代码").fill(uscc)
    form.get_by_role("button", name="确定关联").click()
    expect(field_error(form, "用户类型")).to_have_text("该企业已有企业管理员，请选择“企业用户”申请关联")
    screens.shot("36-error-enterprise-has-admin")

    card_no, image = issue_card_of(holder.name, holder.id_number, uscc)
    insert(image)
    form.get_by_role("button", name="使用法人卡认证为企业管理员").click()
    dialog = page.get_by_role("dialog", name="法人卡认证企业管理员")
    expect(dialog.get_by_label("统一社会信用代码")).to_have_value(uscc)
    # what the squatter typed is not vouched for: the legal person gives the details
    expect(dialog).to_contain_text("该企业信息系他人手动填写，未经核实")
    dialog.get_by_label("企业名称").fill(CLAIMED["name"])
    dialog.get_by_label("注册地址").fill(CLAIMED["address"])
    dialog.get_by_label("经营范围").fill(CLAIMED["business_scope"])
    dialog.get_by_role("button", name="读取卡号").click()
    expect(dialog.get_by_label("法人卡卡号")).to_have_value(card_no)
    screens.shot("37-claim-administrator")
    dialog.get_by_role("button", name="确定").click()
    enter_pin(page, asks=("法人认领", card_no))
    expect(page.get_by_role("status").filter(has_text="已通过法人卡认证为企业管理员")).to_be_visible()
    claimed = panel(page, CLAIMED["name"])
    expect(claimed.locator("tr", has_text="角色认证")).to_contain_text("已认证")
    expect(claimed).to_contain_text(f"已绑定：{card_no}（法人卡）")
    expect(claimed).to_contain_text(CLAIMED["address"])
    screens.shot("38-claimed")

    gone = api.get("/api/v1/me", token=squatter.token).json()["associations"]
    assert [a["status"] for a in gone if a["uscc"] == uscc] == ["removed"]
    for _ in range(100):  # the inbox hears of it through the bus
        kinds = [m["kind"] for m in api.get("/api/v1/messages", token=squatter.token).json()["items"]]
        if "admin_superseded" in kinds:
            break
        time.sleep(0.1)
    assert "admin_superseded" in kinds

"""The rough edges a person met (issue 26): the message a wrong SMS login code gets, the style of
注册成功, the unread count beside 消息提醒, the hint beside 用户类型, the applicant's pending panel,
and the confirmation before 变更企业管理员账号. Each screen is photographed where the edge was."""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.enterprise_people import MANUAL, apply, approve, register_enterprise
from tests.e2e.enterprise_people import register as register_over_api
from tests.factories import new_id_number, new_mobile

from .helpers import ask_sms_code, associate_form, field, field_error, panel, register
from .helpers import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def test_a_wrong_sms_login_code_is_said_to_be_the_code(browser_of, api):
    person = register_over_api(api)
    screens = browser_of()
    page = screens.open("/login")
    page.get_by_role("tab", name="手机号登录").click()
    page.get_by_label("手机号码").fill(person.mobile)
    code = ask_sms_code(page, person.mobile, "login")
    page.get_by_label("验证码").fill(f"{(int(code) + 1) % 10**6:06d}")
    page.get_by_role("button", name="登录", exact=True).click()
    page.wait_for_timeout(500)
    screens.shot("40-error-sms-login-wrong-code")
    expect(field_error(page, "验证码")).to_have_text("验证码错误或已过期")
    expect(page.get_by_text("账号或密码错误")).to_have_count(0)
    # the right code still signs in (the wrong one cost a try, not the code)
    page.get_by_label("验证码").fill(code)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_role("button", name="退出")).to_be_visible()


def test_registered_is_said_as_a_success(browser_of):
    screens = browser_of()
    register(screens, "陈一", new_id_number(), new_mobile())
    screens.shot("41-registered")
    told = screens.page.get_by_role("status").filter(has_text="注册成功")
    expect(told).to_have_class(re.compile(r"\bel-alert--success\b"))


def test_the_applicant_sees_the_enterprise_and_is_told_once_then_the_count_leaves_messages_legible(browser_of, api):
    admin, member = register_over_api(api, "林二"), register_over_api(api, "黄三")
    _, uscc = register_enterprise(api, admin, certify_role=False)

    # 用户类型: the manual's default, with who should pick which beside it
    screens = browser_of()
    page = log_in(screens, member)
    form = associate_form(page)
    expect(form.get_by_role("radio", name="企业管理员")).to_be_checked()
    hint = field(form, "用户类型").get_by_text("员工请选择企业用户")
    expect(hint).to_be_visible()
    assert hint.bounding_box()["height"] < 30  # one line
    screens.shot("42-user-type-hint")

    form.locator(".el-radio", has_text="企业用户").click()
    form.get_by_label("统一社会信用代码").fill(uscc)
    form.get_by_role("button", name="确定关联").click()
    mine = panel(page, MANUAL["name"])
    expect(mine).to_contain_text("待审核")
    expect(mine.locator("tr", has_text="注册地址")).to_contain_text(MANUAL["address"])
    screens.shot("43-pending-panel")
    expect(mine.locator("tr", has_text="经营范围")).to_contain_text(MANUAL["business_scope"])
    expect(mine.locator("tr", has_text="企业认证")).to_contain_text("未认证")
    expect(page.get_by_text("关联申请已提交")).to_have_count(1)
    expect(mine.get_by_text("—", exact=True)).to_have_count(0)

    # the administrator's unread count sits beside 消息提醒, covering none of it
    theirs = browser_of()
    their = log_in(theirs, admin)
    link = their.get_by_role("link", name="消息提醒，1条未读")
    expect(link).to_be_visible()
    words, count = link.get_by_text("消息提醒", exact=True), link.locator(".el-badge__content")
    expect(count).to_have_text("1")
    theirs.shot("44-unread-count")
    a, b = words.bounding_box(), count.bounding_box()
    assert a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"], (a, b)


def test_handing_the_administrator_role_over_asks_first(browser_of, api):
    admin, member = register_over_api(api, "何四"), register_over_api(api, "罗五")
    eid, uscc = register_enterprise(api, admin)
    approve(api, admin, apply(api, member, uscc))

    screens = browser_of()
    page = log_in(screens, admin)
    panel(page, MANUAL["name"]).get_by_role("button", name="变更企业管理员账号").click()
    dialog = page.get_by_role("dialog", name="变更企业管理员账号")
    dialog.locator(".el-select").click()
    page.locator(".el-select-dropdown__item", has_text="罗五").click()
    dialog.get_by_role("button", name="确定").click()
    page.wait_for_timeout(400)
    screens.shot("45-confirm-change-administrator")
    confirm = page.get_by_role("dialog", name="确认变更企业管理员")
    expect(confirm).to_contain_text("罗五")
    expect(confirm).to_contain_text("您将成为本企业的企业用户")
    expect(confirm).to_contain_text("不能再审核关联申请、分配业务权限")

    # 取消 changes nothing
    confirm.get_by_role("button", name="取消").click()
    expect(confirm).to_be_hidden()
    assert api.get(f"/api/v1/enterprises/{eid}", token=admin.token).json()["admin_user_id"] == admin.user_id

    dialog.get_by_role("button", name="确定").click()
    page.get_by_role("dialog", name="确认变更企业管理员").get_by_role("button", name="确定变更").click()
    expect(page.get_by_text("企业管理员账号已变更")).to_be_visible()
    assert api.get(f"/api/v1/enterprises/{eid}", token=admin.token).json()["admin_user_id"] == member.user_id

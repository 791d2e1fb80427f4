"""The whole manual (shared/manual-zh.md) in the browser, from 注册账户 to 变更企业管理员账号 and
解除绑定: two people, the legal-person card in the emulator's reader, the card agent's local
mode, and the platform as `make run` starts it. Each screen is photographed at both sizes."""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.enterprise_people import register as register_over_api
from tests.factories import new_id_number, new_mobile, new_uscc

from .helpers import (PASSWORD, ask_sms_code, associate_form, bind_card, enter_pin, login_with_password, logout, panel,
                      register, session_token)

pytestmark = [pytest.mark.e2e, pytest.mark.card, pytest.mark.timeout(240)]

ENTERPRISE = "杭州控制台测试贸易有限公司"


def test_the_manual_from_registration_to_a_new_administrator(browser_of, api, insert, issue_card_of, veteran):
    admin = browser_of()
    page = admin.page
    name, id_number, mobile = "张三", new_id_number(), new_mobile()

    # 1.1 用户注册, then 登录 by account and password
    register(admin, name, id_number, mobile, shoot=True)
    login_with_password(admin, mobile, shoot=True)
    assert mobile not in page.url and session_token(page) not in page.url
    assert page.evaluate("Object.keys(localStorage)") == ["eport.agent"]  # the token is in sessionStorage only

    # 1.2 关联企业: first login; the registry does not know the USCC, so the administrator types it in
    form = associate_form(page)
    expect(page.get_by_text("用户注册成功首次登录需先进行关联企业操作")).to_be_visible()
    admin.shot("04-workbench-first-login")
    uscc = new_uscc()
    form.locator(".el-radio", has_text="企业管理员").click()
    form.get_by_label("统一社会信用代码").fill(uscc)
    form.get_by_role("button", name="查询企业").click()
    expect(form.get_by_text("未查询到企业, 可手动填写信息")).to_be_visible()
    expect(form.get_by_text("仅企业管理员可注册企业信息, 请使用企业管理员账号注册企业信息")).to_be_visible()
    form.get_by_label("企业名称").fill(ENTERPRISE)
    form.get_by_label("注册地址").fill("浙江省杭州市上城区解放东路8号")
    form.get_by_label("经营范围").fill("货物进出口；技术进出口")
    admin.shot("05-associate-manual-entry")
    form.get_by_role("button", name="确定关联").click()
    expect(page.get_by_text("企业关联操作完成")).to_be_visible()
    mine = panel(page, ENTERPRISE)
    expect(mine).to_contain_text(uscc)
    expect(mine).to_contain_text("企业管理员")
    expect(mine.locator("tr", has_text="企业认证")).to_contain_text("未认证")
    expect(mine.locator("tr", has_text="角色认证")).to_contain_text("未认证")
    expect(page.get_by_text("温馨提示: 如您只需办理电子口岸 IC 卡相关业务")).to_be_visible()
    expect(mine).to_contain_text("未绑定IC/Key设备, 绑定后, 可使用设备登录")
    admin.shot("06-enterprise-panel")

    # 1.3 绑卡: the enterprise's legal-person card of the same person, through the agent
    card_no, image = issue_card_of(name, id_number, uscc)
    insert(image)
    bind_card(admin, ENTERPRISE, card_no, shots=("07-bind-card-number", "08-card-pin-prompt"))
    expect(mine.get_by_role("status")).to_have_text("绑定成功，企业管理员角色认证已完成")
    expect(mine).to_contain_text(f"已绑定：{card_no}（法人卡）")
    expect(mine.locator("tr", has_text="角色认证")).to_contain_text("已认证")
    admin.shot("09-card-bound")

    # 退出 ends the session on the server too
    token = session_token(page)
    logout(page)
    assert api.get("/api/v1/me", token=token).status_code == 401
    assert page.evaluate("sessionStorage.getItem('eport.session')") is None

    # 1.5 a new person registers (1.1, here over the API) and, logged in by mobile and SMS code,
    # associates as 企业用户
    member = register_over_api(api, "李四")
    other = browser_of()
    their = other.open("/login")
    their.get_by_role("tab", name="手机号登录").click()
    their.get_by_label("手机号码").fill(member.mobile)
    their.get_by_label("验证码").fill(ask_sms_code(their, member.mobile, "login"))
    other.shot("10-login-sms")
    their.get_by_role("button", name="登录", exact=True).click()
    form = associate_form(their)
    form.locator(".el-radio", has_text="企业用户").click()
    form.get_by_label("统一社会信用代码").fill(uscc)
    form.get_by_role("button", name="确定关联").click()
    expect(their.get_by_role("status").filter(has_text="关联申请已提交")).to_be_visible()
    expect(panel(their, ENTERPRISE)).to_contain_text("待审核")
    other.shot("11-member-pending")

    # the administrator logs in with the card (ICKey 设备登录) and finds the request in 消息提醒
    page = admin.open("/login")
    page.get_by_role("button", name="ICKey 设备登录").click()
    enter_pin(page, asks=("登录", card_no))
    expect(page.get_by_role("button", name="退出")).to_be_visible()
    inbox = page.get_by_role("link", name=re.compile(r"^消息提醒，[1-9]\d*条未读$"))
    expect(inbox).to_be_visible()
    admin.shot("12-workbench-unread-badge")
    inbox.click()
    request = page.get_by_role("listitem").filter(has_text="李四").first
    expect(request.get_by_role("button", name="审核通过")).to_be_visible()
    admin.shot("13-messages")
    request.get_by_role("button", name="审核通过").click()
    expect(request.get_by_role("status")).to_have_text("已审核通过")

    # 1.4 企业权限管理: the whole set of business systems, saved
    page.get_by_role("link", name="企业权限管理").click()
    row = page.get_by_role("group", name="成员：李四")
    systems = api.get("/api/v1/systems").json()["items"][:2]
    for system in systems:
        row.locator(".el-checkbox", has_text=system["name"]).click()
    admin.shot("14-permissions")
    row.get_by_role("button", name="保存").click()
    expect(row.get_by_role("status")).to_have_text("已保存")
    me = api.get("/api/v1/me", token=member.token).json()
    enterprise_id = next(a["enterprise_id"] for a in me["associations"] if a["uscc"] == uscc)
    granted = api.get(f"/api/v1/enterprises/{enterprise_id}/members/{member.user_id}/permissions", token=member.token)
    assert sorted(granted.json()["systems"]) == sorted(s["code"] for s in systems)

    # 1.5 变更企业管理员账号: 李四, chosen in the drop-down, becomes the administrator
    page.get_by_role("link", name="关联企业").click()
    panel(page, ENTERPRISE).get_by_role("button", name="变更企业管理员账号").click()
    dialog = page.get_by_role("dialog", name="变更企业管理员账号")
    dialog.locator(".el-select").click()
    page.locator(".el-select-dropdown__item", has_text="李四").click()
    admin.shot("15-change-administrator")
    dialog.get_by_role("button", name="确定").click()
    page.get_by_role("dialog", name="确认变更企业管理员").get_by_role("button", name="确定变更").click()  # asked first
    expect(page.get_by_text("企业管理员账号已变更")).to_be_visible()
    expect(panel(page, ENTERPRISE)).to_contain_text("企业用户")
    assert api.get(f"/api/v1/enterprises/{enterprise_id}", token=member.token).json()["admin_user_id"] == member.user_id

    # 1.6 解除绑定
    mine = panel(page, ENTERPRISE)
    mine.get_by_role("button", name="解除绑定").click()
    page.get_by_role("tooltip").get_by_role("button", name="确定").click()
    expect(mine.get_by_role("status")).to_have_text("IC 卡已解除绑定")
    expect(mine).to_contain_text("未绑定IC/Key设备")
    admin.shot("16-card-unbound")

    # 个人中心 shows the account masked, as the API gives it
    page.get_by_role("link", name=re.compile("^个人中心")).click()
    expect(page.get_by_text(f"{id_number[:6]}********{id_number[-4:]}")).to_be_visible()
    expect(page.get_by_text(f"{mobile[:3]}****{mobile[-4:]}")).to_be_visible()
    assert id_number not in page.content() and mobile not in page.content()
    # 修改密码 ends the other sessions unless the person unticks it
    expect(page.get_by_role("checkbox", name="同时退出其他已登录的设备")).to_be_checked()
    admin.shot("17-profile")
    assert PASSWORD not in page.content()

"""Errors as the console shows them: each in Chinese, under the field it concerns (400 details
under their field), and what happens to the browser session when the server ends it."""
import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.enterprise_people import PASSWORD as API_PASSWORD
from tests.e2e.enterprise_people import register as register_over_api
from tests.e2e.enterprise_people import unknown_uscc
from tests.factories import new_id_number, new_mobile, new_uscc
from tests.sms import latest_code, messages

from .helpers import ask_sms_code, associate_form, bind_card, field_error, panel, session_token
from .helpers import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def test_registration_errors_show_under_their_fields(browser_of, api):
    screens = browser_of()
    page = screens.open("/register")
    taken = register_over_api(api)  # for 忘记密码 below

    # a wrong check digit: the 400's detail under 证件号码, nothing else
    mobile = new_mobile()
    good_id = new_id_number()
    page.get_by_label("姓名").fill("王五")
    page.get_by_label("证件号码").fill(good_id[:17] + ("0" if good_id[17] != "0" else "1"))
    page.get_by_label("手机号码").fill(mobile)
    code = ask_sms_code(page, mobile, "register")
    page.get_by_label("验证码").fill(code)
    page.get_by_role("button", name="确认并注册").click()
    expect(field_error(page, "证件号码")).to_have_text("证件号码校验位错误")
    expect(field_error(page, "手机号码")).to_have_count(0)

    # a wrong SMS code, under 验证码
    page.get_by_label("证件号码").fill(good_id)
    page.get_by_label("验证码").fill(f"{(int(code) + 1) % 10**6:06d}")
    page.get_by_role("button", name="确认并注册").click()
    expect(field_error(page, "验证码")).to_have_text("验证码错误或已过期")
    expect(field_error(page, "证件号码")).to_have_count(0)
    screens.shot("20-error-wrong-sms-code")

    # 忘记密码 by SMS: a wrong code, then the new password works
    page = screens.open("/login")
    page.get_by_role("button", name="忘记密码").click()
    dialog = page.get_by_role("dialog", name="忘记密码")
    dialog.get_by_label("手机号码").fill(taken.mobile)
    code = ask_sms_code(dialog, taken.mobile, "reset_password")
    dialog.get_by_label("验证码").fill(f"{(int(code) + 1) % 10**6:06d}")
    dialog.get_by_label("新密码", exact=True).fill("Reset#console-2026")
    dialog.get_by_label("确认新密码").fill("Reset#console-2026")
    dialog.get_by_role("button", name="重置密码").click()
    expect(field_error(dialog, "验证码")).to_have_text("验证码错误或已过期")
    screens.shot("22-forgot-password")
    dialog.get_by_label("验证码").fill(code)
    dialog.get_by_role("button", name="重置密码").click()
    expect(page.get_by_text("密码已重置，请使用新密码登录")).to_be_visible()
    r = api.post("/api/v1/sessions", json={"method": "password", "account": taken.mobile,
                                            "password": "Reset#console-2026"})
    assert r.status_code == 201, r.text


def test_enterprise_look_up_errors_and_the_manual_entry(browser_of, api):
    screens = browser_of()
    page = log_in(screens, register_over_api(api))
    form = associate_form(page)
    good = new_uscc()
    form.get_by_label("统一社会信用代码").fill(good[:17] + ("0" if good[17] != "0" else "1"))
    form.get_by_role("button", name="查询企业").click()
    expect(field_error(form, "统一社会信用代码")).to_have_text("统一社会信用代码校验位错误")
    screens.shot("23-error-uscc-check-character")

    # unknown to the registry: manual entry, and each missing field says so under itself
    form.locator(".el-radio", has_text="企业管理员").click()
    form.get_by_label("统一社会信用代码").fill(unknown_uscc())
    form.get_by_role("button", name="查询企业").click()
    expect(form.get_by_text("未查询到企业, 可手动填写信息")).to_be_visible()
    expect(field_error(form, "统一社会信用代码")).to_have_count(0)
    form.get_by_role("button", name="确定关联").click()
    expect(field_error(form, "企业名称")).to_have_text("请输入企业名称")
    expect(field_error(form, "注册地址")).to_have_text("请输入详细地址")
    expect(field_error(form, "经营范围")).to_have_text("请输入经营范围")
    screens.shot("24-error-manual-fields")

    # an ordinary user cannot join an enterprise no administrator registered
    form.locator(".el-radio", has_text="企业用户").click()
    form.get_by_role("button", name="确定关联").click()
    expect(field_error(form, "统一社会信用代码")).to_contain_text("该企业尚未由企业管理员注册")


def test_keyboard_login_then_an_ended_session_returns_to_login_with_a_message(browser_of, api):
    person = register_over_api(api)
    screens = browser_of()
    page = screens.open("/login")
    for _ in range(12):  # Tab from the top of the page to the account field
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "login-account":
            break
    assert page.evaluate("document.activeElement.id") == "login-account"
    page.keyboard.type(person.mobile)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "login-password"
    page.keyboard.type(API_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="退出")).to_be_visible()

    # the session ends on the server (as at expiry): the next call sends the person back to 登录
    token = session_token(page)
    assert api.delete("/api/v1/sessions/current", token=token).status_code == 204
    for _ in range(100):  # the gateway hears of the logout through the bus
        if api.get("/api/v1/me", token=token).status_code == 401:
            break
        time.sleep(0.1)
    page.reload()  # the console's next call (here /me, as the page starts again) meets the 401
    # (within the unread count's poll at the latest, should the reload's calls still have passed)
    expect(page.get_by_role("heading", name="杭州Eport 用户登录")).to_be_visible(timeout=15000)
    expect(page.get_by_role("status").filter(has_text="登录已过期，请重新登录")).to_be_visible(timeout=15000)
    assert session_token(page) is None
    screens.shot("25-session-expired")

    # wrong password: a message above the form, in Chinese
    page.get_by_label("账号", exact=True).fill(person.mobile)
    page.get_by_label("密码", exact=True).fill("not the password")
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_role("alert").filter(has_text="账号或密码错误")).to_be_visible()


@pytest.mark.card
def test_a_card_of_another_holder_does_not_bind(browser_of, api, insert, issue_card_of):
    person = register_over_api(api, "赵六")
    uscc = unknown_uscc()
    r = api.post("/api/v1/associations", token=person.token, json={
        "uscc": uscc, "role": "admin", "name": "宁波卡号测试有限公司", "address": "浙江省宁波市",
        "business_scope": "货物进出口"})
    assert r.status_code == 201, r.text
    screens = browser_of()
    page = log_in(screens, person)
    card_no, image = issue_card_of("钱七", new_id_number(), uscc)
    insert(image)
    dialog = bind_card(screens, "宁波卡号测试有限公司", card_no)
    expect(field_error(dialog, "卡号")).to_have_text("绑卡失败，信息不符：请插入与当前登录账号信息一致的电子口岸 IC 卡")
    screens.shot("26-error-card-holder-mismatch")
    dialog.get_by_role("button", name="取消").click()
    expect(panel(page, "宁波卡号测试有限公司")).to_contain_text("未绑定IC/Key设备")


def test_a_taken_mobile_after_the_cooldown_shown_while_it_lasts(browser_of, veteran):
    """Last of the module: `veteran` registered at the start of the session, so the SMS cooldown
    of that registration has (nearly) passed."""
    screens = browser_of()
    page = screens.open("/register")
    page.get_by_label("姓名").fill("王五")
    page.get_by_label("证件号码").fill(new_id_number())
    page.get_by_label("手机号码").fill(veteran.mobile)
    before = len(messages(veteran.mobile))
    page.get_by_role("button", name="获取验证码").click()
    cooling = field_error(page, "手机号码")
    for _ in range(200):  # the SMS, or the cooldown's message under 手机号码
        if len(messages(veteran.mobile)) > before or (cooling.count() and cooling.inner_text().strip()):
            break
        time.sleep(0.05)
    if len(messages(veteran.mobile)) == before:
        # still cooling down: said under 手机号码 with the seconds left, counted down on the button
        expect(field_error(page, "手机号码")).to_contain_text(re.compile(r"验证码发送过于频繁，请\d+秒后再试"))
        screens.shot("27-error-sms-cooldown")
        expect(page.get_by_role("button", name="获取验证码")).to_be_enabled(timeout=65000)
        code = ask_sms_code(page, veteran.mobile, "register")
    else:
        code = latest_code(veteran.mobile, "register")
    page.get_by_label("验证码").fill(code)
    page.get_by_role("button", name="确认并注册").click()
    expect(field_error(page, "手机号码")).to_have_text("该手机号码已注册")
    screens.shot("21-error-mobile-taken")

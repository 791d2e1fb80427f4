"""个人中心 → 下载我的数据 and 注销账号/删除我的数据 in the console (shared/API.md "Personal data"): a
personal_data SMS code to the account's own mobile, then the JSON file; the erasure's warning, its
refusals in words (409 ADMIN_HAS_MEMBERS, LEGAL_HOLD) and the signed-out account afterwards."""
import json
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.enterprise_people import PASSWORD as API_PASSWORD
from tests.e2e.enterprise_people import apply, approve
from tests.e2e.enterprise_people import register as register_over_api
from tests.e2e.personal_data_steps import neighbour_and_enterprise
from tests.eport_cli import eport

from .helpers import ask_sms_code, field_error, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def open_from_profile(screens, person, button):
    page = log_in(screens, person)
    screens.open("/profile")
    expect(page.get_by_role("heading", name="我的个人数据")).to_be_visible()
    page.get_by_role("button", name=button).click()
    return page


def confirm(page):
    page.locator(".el-checkbox", has_text="我已了解以上后果").click()
    expect(page.get_by_role("checkbox", name=re.compile("我已了解以上后果"))).to_be_checked()


def fill_code(page, person):
    page.get_by_label("手机号码").fill(person.mobile)
    page.get_by_label("验证码").fill(ask_sms_code(page, person.mobile, "personal_data"))


def test_a_person_downloads_their_data_as_a_json_file(browser_of, api):
    person, neighbour = register_over_api(api), register_over_api(api)
    screens = browser_of()
    page = open_from_profile(screens, person, "下载我的数据")
    expect(page.get_by_role("heading", name="下载我的数据")).to_be_visible()

    page.get_by_role("button", name="下载我的数据").click()  # nothing filled in: the form's own rules
    expect(field_error(page, "手机号码")).to_have_text("请输入您注册的手机号码")
    expect(field_error(page, "验证码")).to_have_text("请输入验证码")

    page.get_by_label("手机号码").fill(neighbour.mobile)  # a code to another mobile: refused by identity
    page.get_by_role("button", name="获取验证码").click()
    expect(page.get_by_role("alert").filter(has_text="您没有权限进行此操作")).to_be_visible()

    fill_code(page, person)
    screens.shot("40-download-my-data")
    with page.expect_download(timeout=15000) as download:
        page.get_by_role("button", name="下载我的数据").click()
    assert re.fullmatch(r"我的数据-\d{4}-\d{2}-\d{2}\.json", download.value.suggested_filename)
    document = json.loads(open(download.value.path(), encoding="utf-8").read())
    assert (document["account"]["mobile"], document["account"]["id_number"]) == (person.mobile, person.id_number)
    expect(page.get_by_role("status").filter(has_text="您的数据已下载")).to_be_visible()


def test_an_administrator_with_members_is_told_to_hand_the_role_over(browser_of, api):
    neighbour = neighbour_and_enterprise(api)
    member = register_over_api(api)
    approve(api, neighbour.person, apply(api, member, neighbour.uscc))
    screens = browser_of()
    page = open_from_profile(screens, neighbour.person, "注销账号/删除我的数据")
    fill_code(page, neighbour.person)
    confirm(page)
    page.get_by_role("button", name="注销账号并删除我的数据").click()
    # The warning above the form says the same words in a longer sentence: the error is the alert of them alone.
    expect(page.get_by_role("alert").filter(has_text=re.compile("^您是企业管理员且企业还有其他成员，请先移交管理员角色$"))).to_be_visible()
    r = api.get("/api/v1/me", token=neighbour.person.token)
    assert r.status_code == 200, r.text  # still here


def test_a_held_account_is_told_its_data_is_held(browser_of, api, platform):
    person = register_over_api(api)
    operator = (platform.broker_uris or {}).get("operator", platform.env["AMQP_URI"])
    eport("legal-hold", "add", person.user_id, "--reason", "法院协查函", amqp_uri=operator)
    screens = browser_of()
    page = open_from_profile(screens, person, "注销账号/删除我的数据")
    fill_code(page, person)
    confirm(page)
    page.get_by_role("button", name="注销账号并删除我的数据").click()
    expect(page.get_by_role("alert").filter(has_text=re.compile("^您的数据正依法保全，暂不能删除$"))).to_be_visible()


def test_a_person_erases_their_account_after_the_warning(browser_of, api):
    person = register_over_api(api)
    screens = browser_of()
    page = open_from_profile(screens, person, "注销账号/删除我的数据")
    expect(page.get_by_text("注销后无法恢复，请谨慎操作")).to_be_visible()
    fill_code(page, person)
    page.get_by_role("button", name="注销账号并删除我的数据").click()  # not confirmed yet
    expect(page.get_by_text("请先确认您已了解注销的后果")).to_be_visible()
    confirm(page)
    screens.shot("41-erase-my-account")
    page.get_by_role("button", name="注销账号并删除我的数据").click()
    expect(page.get_by_role("status").filter(has_text="您的注销申请已受理")).to_be_visible()
    expect(page.get_by_label("账号", exact=True)).to_be_visible()  # signed out, at 登录
    r = api.post("/api/v1/sessions", json={"method": "password", "account": person.mobile, "password": API_PASSWORD})
    assert r.status_code in (401, 403), r.text

"""持卡认领 (实名认证) in the browser: someone registered a person's ID number; the person, told at
注册账户 that it is taken, follows "已被注册？持卡认领", proves the ID number with their e-port card
through the card agent (the emulator in the virtual reader), sets the new account's password and logs
in with the ID number; the squatter's session has ended. Elements found by their visible labels."""
import pytest
from playwright.sync_api import expect

from tests.e2e.enterprise_people import unknown_uscc
from tests.e2e.identity_claim_steps import register_as
from tests.factories import new_id_number, new_mobile

from .helpers import PASSWORD, ask_sms_code, enter_pin, field, field_error

pytestmark = [pytest.mark.e2e, pytest.mark.card, pytest.mark.timeout(180)]
NOT_THE_HOLDER = "认领失败，信息不符：请插入持卡人姓名、证件号码与所填一致的电子口岸 IC 卡"


def fill_in(page, name, id_number):
    """姓名, 证件号码, a new 手机号码 and its register 验证码, as on 注册账户 and 持卡认领."""
    page.get_by_label("姓名").fill(name)
    page.get_by_label("证件号码").fill(id_number)
    page.get_by_label("手机号码").fill(mobile := new_mobile())
    page.get_by_label("验证码").fill(ask_sms_code(page, mobile, "register"))


def test_the_card_holder_claims_the_id_number_someone_registered(browser_of, api, insert, issue_card_of):
    name, id_number = "钱十一", new_id_number()
    squatter = register_as(api, name, id_number)

    screens = browser_of()
    page = screens.open("/register")
    fill_in(page, name, id_number)
    page.get_by_role("button", name="确认并注册").click()
    expect(field_error(page, "证件号码")).to_have_text("该证件号码已注册")
    screens.shot("40-id-number-taken")
    field(page, "证件号码").get_by_role("link", name="已被注册？持卡认领").click()

    expect(page.get_by_role("heading", name="持卡认领账户")).to_be_visible()
    expect(page.get_by_label("姓名")).to_have_value(name)
    expect(page.get_by_label("证件号码")).to_have_value(id_number)
    card_no, image = issue_card_of(name, id_number, unknown_uscc(), card_type="operator")
    insert(image)
    page.get_by_label("手机号码").fill(mobile := new_mobile())
    page.get_by_label("验证码").fill(ask_sms_code(page, mobile, "register"))
    page.get_by_role("button", name="读取卡号").click()
    expect(page.get_by_label("IC 卡卡号")).to_have_value(card_no)
    screens.shot("41-claim-identity")
    page.get_by_role("button", name="插卡认领").click()
    enter_pin(page)

    dialog = page.get_by_role("dialog", name="设置密码")
    expect(dialog.get_by_role("status")).to_have_text("实名认证成功：原先以该证件号码注册的账户已停用")
    dialog.get_by_label("新密码", exact=True).fill(PASSWORD)
    dialog.get_by_label("确认新密码").fill(PASSWORD)
    screens.shot("42-claimed-set-password")
    dialog.get_by_role("button", name="确认").click()
    expect(page.get_by_text("认领成功，请使用证件号码和密码登录")).to_be_visible()
    page.get_by_label("账号", exact=True).fill(id_number)
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_role("button", name="退出")).to_be_visible()

    assert api.get("/api/v1/me", token=squatter.token).status_code == 401


def test_a_card_of_another_person_is_told_at_the_card(browser_of, api, insert, issue_card_of):
    name, id_number = "孙十二", new_id_number()
    register_as(api, name, id_number)
    screens = browser_of()
    page = screens.open("/claim-identity")
    fill_in(page, name, id_number)
    card_no, image = issue_card_of(name, new_id_number(), unknown_uscc(), card_type="operator")
    insert(image)
    page.get_by_label("IC 卡卡号").fill(card_no)
    page.get_by_role("button", name="插卡认领").click()
    enter_pin(page)
    expect(field_error(page, "IC 卡卡号")).to_have_text(NOT_THE_HOLDER)
    screens.shot("43-error-not-the-holder")

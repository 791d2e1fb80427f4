"""What the browser tests do on the console's screens, the way a person does it."""
import re
import time

from playwright.sync_api import expect

from tests.e2e.enterprise_people import PASSWORD as API_PASSWORD
from tests.sms import latest_code, messages

PASSWORD = "Eport#console-2026"
PIN = "123456"


def field(scope, label):
    """The form item labelled `label` (its input, and the message under it)."""
    return scope.locator(f'.el-form-item:has(label.el-form-item__label:text-is("{label}"))').first


def field_error(scope, label):
    return field(scope, label).locator(".el-form-item__error")


def ask_sms_code(scope, mobile, purpose):
    """Click 获取验证码, see its countdown, and read the new code from the phone (the outbox)."""
    before = len(messages(mobile))
    scope.get_by_role("button", name="获取验证码").click()
    expect(scope.get_by_role("button", name=re.compile(r"^\d+秒后重新获取$"))).to_be_disabled()
    deadline = time.monotonic() + 10
    while len(messages(mobile)) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    return latest_code(mobile, purpose)


def register(screens, name, id_number, mobile, shoot=False):
    page = screens.open("/register")
    expect(page.get_by_role("heading", name="注册账户")).to_be_visible()
    page.get_by_label("姓名").fill(name)
    page.get_by_label("证件号码").fill(id_number)
    page.get_by_label("手机号码").fill(mobile)
    page.get_by_label("验证码").fill(ask_sms_code(page, mobile, "register"))
    if shoot:
        screens.shot("01-register")
    page.get_by_role("button", name="确认并注册").click()
    dialog = page.get_by_role("dialog", name="设置密码")
    expect(dialog).to_contain_text("请在此处设置好登录密码，并请记录好自己设置的密码")
    dialog.get_by_label("新密码", exact=True).fill(PASSWORD)
    dialog.get_by_label("确认新密码").fill(PASSWORD)
    if shoot:
        screens.shot("02-set-password")
    dialog.get_by_role("button", name="确认").click()
    expect(page.get_by_text("注册成功")).to_be_visible()


def login_with_password(screens, account, shoot=False):
    page = screens.open("/login")
    page.get_by_label("账号", exact=True).fill(account)
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    if shoot:
        screens.shot("03-login-password")
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_role("button", name="退出")).to_be_visible()
    return page


def enter_pin(page, pin=PIN, screens=None, shot=None, asks=None):
    """The agent's one-time PIN prompt, framed in the console's dialog. `asks`: (what for, card
    number), which the prompt must name with the console's origin before the PIN goes in."""
    prompt = page.frame_locator("iframe[title^='IC 卡密码输入']")
    if asks:
        purpose, card_no = asks
        origin = page.evaluate("location.origin")
        expect(prompt.get_by_text(f"{origin} 请求使用 IC 卡 {card_no} 进行「{purpose}」")).to_be_visible()
    prompt.get_by_label("请输入 IC 卡的登录密码").fill(pin)
    if screens and shot:
        screens.shot(shot)
    prompt.get_by_role("button", name="确定").click()


def panel(page, enterprise_name):
    return page.get_by_role("region", name=f"关联企业：{enterprise_name}")


def associate_form(page):
    return page.get_by_role("region", name="关联企业", exact=True)


def bind_card(screens, enterprise_name, card_no, shots=()):
    page = screens.page
    panel(page, enterprise_name).get_by_role("button", name="绑定", exact=True).click()
    dialog = page.get_by_role("dialog", name="绑定 IC/Key 设备")
    dialog.get_by_label("卡号").fill(card_no)
    if shots:
        screens.shot(shots[0])
    dialog.get_by_role("button", name="确定").click()
    enter_pin(page, screens=screens, shot=shots[1] if shots else None, asks=("绑定", card_no))
    return dialog


def logout(page):
    page.get_by_role("button", name="退出").click()
    expect(page.get_by_role("heading", name="杭州Eport 用户登录")).to_be_visible()


def session_token(page):
    return page.evaluate("JSON.parse(sessionStorage.getItem('eport.session') || 'null')?.token")


def log_in(screens, person):
    page = screens.open("/login")
    page.get_by_label("账号", exact=True).fill(person.mobile)
    page.get_by_label("密码", exact=True).fill(API_PASSWORD)
    page.get_by_label("密码", exact=True).press("Enter")
    expect(page.get_by_role("button", name="退出")).to_be_visible()
    return page

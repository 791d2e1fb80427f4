"""The web console in a real browser: Playwright for Python drives Debian's /usr/bin/chromium
(never a downloaded browser) against the platform started as `make run` starts it (the e2e
`platform` fixture, shared with the HTTP suites of tests/e2e).

`Screens.shot(name)` saves a screenshot of the screen at 1280×800 and at 390×844 under
var/screenshots/, and checks on the way that the phone layout does not scroll sideways, that
every visible input has a label, and that axe-core (console/node_modules, pinned in
console/package.json) finds no serious or critical violation on the screen and in its frames.
"""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from gateway.console import console_dir
from eport_card.devca import issue_card, load_ca
from services.card.trust import ensure_dev_ca
from tests.card.conftest import insert, pcscd, virtual_card, vpcd_reader  # noqa: F401 (fixtures)
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = ROOT / "var" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PIN = "123456"


@pytest.fixture(scope="session")
def chromium():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("Debian's chromium is not installed (`make test` installs deploy/apt-packages-test.txt)")
    from playwright.sync_api import sync_playwright
    manager = sync_playwright()
    playwright = manager.start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
    yield browser
    browser.close()
    # Playwright's stop() waits for its driver through asyncio's child watcher, which never
    # wakes under the eventlet monkey patching of tests/conftest.py: end the driver ourselves.
    manager._client._transport._proc.kill()


@pytest.fixture(scope="session")
def console(platform):
    if not (console_dir() / "index.html").is_file():
        pytest.fail("console/dist is not built: `make console` (make run and make test build it)")
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)  # what is there was taken by this run
    SCREENSHOTS.mkdir(parents=True)
    return platform.base_url


@pytest.fixture(scope="session")
def agent_url(console, pcscd):  # noqa: F811
    """`python -m eport_card.agent serve` for the console's origin, on a port of its own."""
    port = free_port()
    logs = Path(os.environ["EPORT_VAR"]) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = open(logs / "card-agent.log", "ab")  # beside the platform's logs
    proc = subprocess.Popen([sys.executable, "-m", "eport_card.agent", "--wait", "5", "serve", "--port", str(port),
                             "--origin", console], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            requests.options(url + "/v1/card", timeout=1)
            break
        except requests.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("the card agent did not start") from None
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)
    log.close()


@pytest.fixture(scope="session")
def card_ca(platform):
    """The platform's development card CA (the card service trusts it when CARD_CA_CERT is unset)."""
    if platform.env.get("CARD_CA_CERT"):
        pytest.skip("the platform trusts a CA of its own (CARD_CA_CERT): cannot issue cards for it")
    return load_ca(ensure_dev_ca(Path(platform.env["EPORT_VAR"]) / "card-ca"))


_card_numbers = iter(range(int(time.time() * 1000) % 10**9, 10**10))


@pytest.fixture
def issue_card_of(card_ca, tmp_path):
    def issue(name, id_number, uscc, card_type="legal_person"):
        card_no = f"89{next(_card_numbers):011d}"
        path = tmp_path / f"{card_no}.json"
        issue_card(card_ca, card_no=card_no, card_type=card_type, holder_name=name, holder_id_number=id_number,
                   uscc=uscc, pin=PIN).save(path)
        return card_no, path
    return issue


@pytest.fixture(scope="session")
def veteran(api):
    """Someone registered early in the session: their mobile is taken, and by the time a later test
    registers it again the SMS cooldown of their own registration (60 s) has mostly passed."""
    from tests.e2e.enterprise_people import register
    return register(api, "周八")


class Screens:
    """One browser page on the console, with the screenshots of its screens."""

    def __init__(self, page, base):
        self.page = page
        self.base = base

    def open(self, path="/"):
        self.page.goto(self.base + path)
        return self.page

    def shot(self, name):
        page = self.page
        page.wait_for_timeout(150)  # Element Plus's transitions
        check_labels(page, name)
        check_accessibility(page, name)
        page.screenshot(path=SCREENSHOTS / f"{name}-1280x800.png", full_page=True)
        page.set_viewport_size(PHONE)
        page.wait_for_timeout(150)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name}: the phone layout scrolls sideways ({width} px)"
        check_labels(page, name)
        check_accessibility(page, name)
        page.screenshot(path=SCREENSHOTS / f"{name}-390x844.png", full_page=True)
        page.set_viewport_size(DESKTOP)


LABELLESS_INPUTS = """() => [...document.querySelectorAll('input, textarea, select')].filter((el) => {
  if (el.type === 'hidden' || el.offsetParent === null || el.closest('[aria-hidden="true"]')) return false
  if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return false
  if (el.labels && [...el.labels].some((l) => l.textContent.trim())) return false
  const group = el.closest('[role="radiogroup"], [role="group"], .el-checkbox, .el-radio')
  return !(group && (group.getAttribute('aria-label') || group.textContent.trim()))
}).map((el) => el.outerHTML.slice(0, 120))"""


def check_labels(page, name):
    missing = page.evaluate(LABELLESS_INPUTS)
    assert not missing, f"{name}: inputs without a label: {missing}"


AXE = ROOT / "console" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")
# axe's own script, evaluated in the page's frames (evaluation is the browser's, not the page's: the
# console's Content-Security-Policy allows no inline script, and nothing is fetched at run time)
RUN_AXE = """async () => {
  // what a person reads is the screen at rest: a tag fading in or out has no contrast to judge yet
  const settling = document.getAnimations().filter((a) => a.effect?.getTiming().iterations !== Infinity)
  await Promise.race([Promise.allSettled(settling.map((a) => a.finished)), new Promise((r) => setTimeout(r, 2000))])
  const result = await axe.run(document, { resultTypes: ['violations'] })
  return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => n.target.join(' ') + ' ' + n.failureSummary.split('\\n').slice(1, 2).join('')) }))
}"""


def check_accessibility(page, name):
    """No serious or critical axe-core violation on the page, nor in a frame of it (the agent's PIN prompt)."""
    source = AXE.read_text(encoding="utf-8")
    found = []
    for frame in page.frames:
        if frame.is_detached() or frame.url in ("", "about:blank"):
            continue
        if not frame.evaluate("typeof window.axe !== 'undefined'"):
            frame.evaluate(source)
        found += [dict(v, frame=frame.url) for v in frame.evaluate(RUN_AXE) if v["impact"] in SERIOUS]
    assert not found, f"{name}: accessibility violations (axe-core): {found}"


@pytest.fixture
def browser_of(chromium, console, agent_url):
    """browser_of() -> Screens: one person's browser (a context of its own: its own sessionStorage),
    whose console talks to the test's card agent."""
    contexts = []

    def open_browser():
        context = chromium.new_context(viewport=DESKTOP, locale="zh-CN")
        context.add_init_script(f"localStorage.setItem('eport.agent', {agent_url!r})")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        return Screens(page, console)

    yield open_browser
    for context in contexts:
        context.close()

"""The card agent as a user installs it: the wheel of cardagent/ alone in a fresh venv (no
platform), `eport-card-agent serve` from it, a card in the reader through the real PC/SC chain,
and a signature the console's page asks for, after the PIN typed into the agent's prompt."""
import base64
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from services.card import certs
from tests.support import free_port

from .conftest import CARD

pytestmark = [pytest.mark.card, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = "http://localhost:8000"


def pip(*args, cwd):
    # the main venv's pip, pointed at the fresh venv with --python: no pip of its own to bootstrap
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
                   cwd=cwd, check=True, timeout=300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv holding the agent's wheel and what that wheel declares, nothing else."""
    where = tmp_path_factory.mktemp("agent-wheel")
    # Built from a copy: setuptools leaves build/ beside the sources, and a module deleted since
    # would stay in the next wheel. The main venv's setuptools builds it (no isolated build
    # environment to download).
    source = shutil.copytree(ROOT / "cardagent", where / "cardagent",
                             ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    pip("wheel", "--no-deps", "--no-build-isolation", str(source), "-w", str(where / "dist"), cwd=where)
    wheel, = (where / "dist").glob("eport_card_agent-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where / "venv")], check=True, timeout=60)
    pip("--python", str(where / "venv" / "bin" / "python"), "install", str(wheel), cwd=where)
    return where / "venv" / "bin"


def clean_env():
    """The test's environment (CARD_READER: the test slot) without a way back to the repository."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


def test_the_wheel_brings_the_agent_and_not_the_platform(installed, tmp_path):
    probe = ("import importlib.util as u; "
             "print(*[m for m in ('eport_card.agent', 'smartcard', 'cryptography', 'requests', "
             "'services', 'contracts', 'nameko', 'eventsourcing', 'eventlet') if u.find_spec(m)])")
    out = subprocess.run([str(installed / "python"), "-c", probe], cwd=tmp_path, env=clean_env(),
                         capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["eport_card.agent", "smartcard", "cryptography", "requests"]


def start_agent(bin_dir, cwd):
    port = free_port()
    proc = subprocess.Popen([str(bin_dir / "eport-card-agent"), "--wait", "5", "serve", "--port", str(port),
                             "--origin", CONSOLE], cwd=cwd, env=clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.options(base + "/v1/card", timeout=1)
            return proc, base
        except requests.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"the installed agent did not start: {proc.communicate()[0]!r}") from None
            time.sleep(0.1)


def test_the_installed_agent_serves_the_card_to_the_console(installed, insert, card_image, tmp_path):
    insert(card_image)
    proc, base = start_agent(installed, tmp_path)
    try:
        card = requests.get(base + "/v1/card", headers={"Origin": CONSOLE}, timeout=10)
        assert card.status_code == 200 and card.json()["card_no"] == CARD["card_no"], card.text
        nonce = os.urandom(32)
        asked = requests.post(base + "/v1/signatures", headers={"Origin": CONSOLE}, timeout=10,
                              json={"nonce": base64.b64encode(nonce).decode(), "purpose": "login"}).json()
        prompt = requests.get(asked["prompt_url"], timeout=10).text
        assert f"{CONSOLE} 请求使用 IC 卡 {CARD['card_no']} 进行「登录」" in prompt
        requests.post(asked["prompt_url"], data={"pin": CARD["pin"]}, headers={"Origin": base}, timeout=30)
        done = requests.get(f"{base}/v1/signatures/{asked['request_id']}", headers={"Origin": CONSOLE},
                            timeout=10).json()
        assert done["state"] == "done", done
        assert certs.verify_signature(done["result"]["certificate"], nonce,
                                      base64.b64decode(done["result"]["signature"]))
    finally:
        proc.terminate()
        proc.wait(10)

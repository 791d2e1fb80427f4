"""Every setting goes through services/common/settings.py, declared once with its default, and
deploy/config.yaml lists the same ones."""
import ast
import re
from pathlib import Path

import pytest
import yaml

from services.common import settings
from services.common.settings import SETTINGS, setting

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SERVICE_CODE = ("services", "gateway", "contracts")  # what runs inside a service process
ENV_VAR = re.compile(r"^\$\{(\w+):([^}]*)\}$")


def _modules():
    for top in SERVICE_CODE:
        for path in sorted((ROOT / top).rglob("*.py")):
            if path != Path(settings.__file__) and "node_modules" not in path.parts:
                yield path


def environment_reads(source):
    """Lines of `source` that read the environment: os.environ / os.getenv / `from os import environ`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb") and \
                isinstance(node.value, ast.Name) and node.value.id == "os":
            found.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os" and \
                any(alias.name in ("environ", "getenv") for alias in node.names):
            found.append(node.lineno)
    return found


def test_no_service_module_reads_the_environment_itself():
    offenders = [f"{path.relative_to(ROOT)}:{line}" for path in _modules()
                 for line in environment_reads(path.read_text(encoding="utf-8"))]
    assert not offenders, f"read these through services.common.settings.setting(): {offenders}"


def test_the_check_sees_every_way_of_reading_the_environment():
    for source in ("import os\nx = os.environ.get('A')", "import os\nx = os.getenv('A')",
                   "from os import environ\nx = environ['A']", "import os\nx = os.environ['A']"):
        assert environment_reads(source), source
    assert environment_reads("x = setting('A')\nimport os\ny = os.path.join('a')\nz = request.environ") == []


def test_every_setting_asked_for_is_declared():
    asked = set()
    for path in [*_modules(), *sorted((ROOT / "deploy").rglob("*.py"))]:
        asked |= set(re.findall(r"\bsetting\(\s*[\"'](\w+)[\"']", path.read_text(encoding="utf-8")))
    assert asked and not asked - set(SETTINGS), f"declare in services/common/settings.py: {asked - set(SETTINGS)}"


def test_config_yaml_lists_every_setting_with_its_default():
    raw = yaml.safe_load((ROOT / "deploy" / "config.yaml").read_text(encoding="utf-8")
                         .replace("!raw_env_var ", ""))  # read as written, not as nameko expands it
    listed = {}
    for name, value in raw["SETTINGS"].items():
        match = ENV_VAR.match(value)
        assert match and match.group(1) == name, f"{name}: write it as ${{{name}:default}}"
        listed[name] = match.group(2) or None
    assert listed == {name: s.default for name, s in SETTINGS.items()}


def test_a_setting_is_the_environments_else_its_default(monkeypatch):
    monkeypatch.delenv("SMS_PROVIDER", raising=False)
    assert setting("SMS_PROVIDER") == "outbox"
    monkeypatch.setenv("SMS_PROVIDER", "")
    assert setting("SMS_PROVIDER") == "outbox"
    monkeypatch.setenv("SMS_PROVIDER", "another")
    assert setting("SMS_PROVIDER") == "another"
    with pytest.raises(KeyError):
        setting("NOT_DECLARED")

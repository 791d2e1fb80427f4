"""The card agent and the card tools are a distribution of their own (cardagent/, package
eport_card): it needs no part of the platform, the card service takes from it only the certificate
layout (and its development CA), so the agent moves the card service's published-log fingerprint
no more; and the agent's command line refuses a secret."""
import ast
import sys
import tomllib
from pathlib import Path

import pytest

import eport_card
from eport_card.agent.__main__ import main as agent_main
from services.card import integration
from services.common import published

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(eport_card.__file__).parent
CARD_SERVICE = ROOT / "services" / "card"
# what the platform is made of: none of it may reach a user's PC through the agent
PLATFORM = {"services", "contracts", "gateway", "deploy", "tests", "nameko", "eventsourcing", "eventlet",
            "marshmallow", "werkzeug", "pika"}
# the import name of each dependency cardagent/pyproject.toml declares
IMPORT_NAMES = {"pyscard": "smartcard", "cryptography": "cryptography", "requests": "requests"}


def imports(path):
    """The absolute module names `path` imports (relative imports are the package's own)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module


def test_the_package_is_the_one_in_cardagent():
    assert PACKAGE == ROOT / "cardagent" / "eport_card"
    assert not (CARD_SERVICE / "agent").exists() and not (CARD_SERVICE / "emulator").exists()


def test_it_imports_only_the_standard_library_and_its_declared_dependencies():
    declared = tomllib.loads((ROOT / "cardagent" / "pyproject.toml").read_text())["project"]["dependencies"]
    allowed = {IMPORT_NAMES[req.split("=")[0].split(">")[0].split("<")[0].strip()] for req in declared}
    assert allowed == {"smartcard", "cryptography", "requests"}
    for path in PACKAGE.rglob("*.py"):
        for name in imports(path):
            top = name.split(".")[0]
            assert top not in PLATFORM, f"{path} imports {name}: the agent must install without the platform"
            assert top in allowed | {"eport_card", "__future__"} or top in sys.stdlib_module_names, \
                f"{path} imports {name}, which cardagent/pyproject.toml does not declare"


def test_the_card_service_takes_only_the_certificate_layout_and_the_development_ca():
    taken = {(path.name, name) for path in CARD_SERVICE.rglob("*.py") for name in imports(path)
             if name.split(".")[0] == "eport_card"}
    assert taken <= {("certs.py", "eport_card.certificate"), ("trust.py", "eport_card.devca")}, taken


def test_the_card_services_fingerprint_reads_none_of_the_agents_files(monkeypatch):
    """Spied, not edited: the files code_fingerprint reads for the card service."""
    read = []
    original = Path.read_bytes

    def spy(path):
        read.append(path.resolve())
        return original(path)
    monkeypatch.setattr(Path, "read_bytes", spy)
    monkeypatch.setattr(published, "_fingerprints", {})
    published.code_fingerprint(integration.to_integration)
    assert CARD_SERVICE / "integration.py" in read and CARD_SERVICE / "certs.py" in read  # it did read the service
    agent_files = {path.resolve() for path in PACKAGE.rglob("*.py")}
    assert agent_files and not agent_files & set(read)


@pytest.mark.parametrize("argv", [
    ["login", "--pin", "123456"],
    ["login", "--pin=123456"],
    ["bind", "--enterprise", "e-1", "--token", "secret-token"],
    ["claim-admin", "--uscc", "91350100M000100Y43", "--token=secret-token"],
    ["--wait", "1", "login", "--pin", "123456", "--pin-file", "pin.txt"],
])
def test_the_command_line_takes_no_pin_and_no_token(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        agent_main(argv)
    assert stopped.value.code == 2
    assert "process list" in capsys.readouterr().err


def test_a_secret_option_is_not_taken_as_an_abbreviation_of_its_file_option(capsys):
    # argparse would take "--pin-f" for "--pin-file"; "--pin" itself is refused above, and no
    # other abbreviation passes either
    with pytest.raises(SystemExit) as stopped:
        agent_main(["login", "--pin-f", "pin.txt"])
    assert stopped.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err

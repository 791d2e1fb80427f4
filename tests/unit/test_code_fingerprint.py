"""The published log's fingerprint (services/common/published.py) covers every line of code that
can change how a service maps its stored events: its own package, contracts/ and services/common/,
which holds only if no service imports another; and it changes when any of those files does."""
import ast
import importlib
import sys
from pathlib import Path

import pytest

from services.common import published
from services.common.published import code_fingerprint

pytestmark = pytest.mark.unit
SERVICES = Path(published.__file__).parents[1]


def imported(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield ("." * node.level) + (node.module or "")


@pytest.mark.parametrize("service", sorted(p.name for p in SERVICES.iterdir()
                                           if (p / "__init__.py").exists() and p.name != "common"))
def test_a_service_imports_no_other_service(service):
    for path in (SERVICES / service).rglob("*.py"):
        depth = len(path.relative_to(SERVICES / service).parts)  # ".." from services/x/y.py is services
        for name in imported(path):
            dots = len(name) - len(name.lstrip("."))
            absolute = name if not dots else (None if dots < depth + 1 else "services." + name.lstrip("."))
            if absolute and absolute.startswith("services.") and absolute != "services.":
                assert absolute.split(".")[1] in (service, "common"), f"{path} imports {name}"


def test_it_changes_when_a_mapping_module_changes(tmp_path, monkeypatch):
    package = tmp_path / "fingerprinted"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "integration.py").write_text("def to_integration(domain_event):\n    return []\n")
    (package / "helpers.py").write_text("VERSION = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("fingerprinted.integration")
    try:
        first = code_fingerprint(module.to_integration)
        published._fingerprints.clear()
        assert code_fingerprint(module.to_integration) == first
        (package / "helpers.py").write_text("VERSION = 2\n")  # a helper the mapping may use
        published._fingerprints.clear()
        assert code_fingerprint(module.to_integration) != first
    finally:
        published._fingerprints.clear()
        sys.modules.pop("fingerprinted.integration", None)
        sys.modules.pop("fingerprinted", None)


def test_each_service_has_its_own():
    from services.enterprise.integration import to_integration as enterprise
    from services.identity.integration import to_integration as identity

    assert code_fingerprint(identity) != code_fingerprint(enterprise)

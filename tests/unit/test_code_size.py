"""Fitness: no module over 400 lines and no function over 45 outside tests/ and bench/ (the
conventions' "small modules, functions that fit on a screen"): a longer one is split by subject."""
import ast
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
MODULE_MAX, FUNCTION_MAX = 400, 45
EXEMPT = ("tests/", "bench/")


def _sources():
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / name for name in listed if not name.startswith(EXEMPT) and (ROOT / name).exists()]


def _long_functions(path, text):
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > FUNCTION_MAX:
                yield f"{path.relative_to(ROOT)}:{node.lineno} {node.name} is {length} lines"


def test_no_module_over_400_lines_and_no_function_over_45():
    too_long = []
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MODULE_MAX:
            too_long.append(f"{path.relative_to(ROOT)} is {lines} lines")
        too_long += _long_functions(path, text)
    assert not too_long, "split by subject:\n" + "\n".join(too_long)

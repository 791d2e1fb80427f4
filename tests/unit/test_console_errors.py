"""The console's one table of Chinese error messages covers every error code of contracts/, and
the console's own logic (error mapping, countdown, masking) passes its Vitest suite."""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from contracts import errors
from gateway.errors import mapped_errors

pytestmark = pytest.mark.unit

CONSOLE = Path(__file__).resolve().parents[2] / "console"
TABLE = json.loads((CONSOLE / "src" / "error-messages.json").read_text(encoding="utf-8"))


def contract_codes():
    return {value for name, value in vars(errors).items()
            if name.isupper() and isinstance(value, str) and value == name}


def test_every_error_code_of_the_contracts_has_a_chinese_message():
    codes = contract_codes() | set(mapped_errors) | {"INTERNAL_ERROR"}
    assert len(codes) > 30  # the scan found the codes, not nothing
    missing = sorted(codes - set(TABLE["codes"]))
    assert not missing, f"add these to console/src/error-messages.json: {missing}"


def test_every_message_is_chinese_and_names_only_details_the_api_sends():
    for code, entry in TABLE["codes"].items():
        message = entry["message"]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in message), code
        for placeholder in ("{retry_after}", "{tries_left}"):
            if placeholder in message:
                assert code in {"SMS_COOLDOWN", "SMS_QUOTA_EXCEEDED", "ACCOUNT_LOCKED", "WRONG_PIN",
                                "RATE_LIMITED"}, code
        assert isinstance(entry.get("field", []), list), code


@pytest.mark.skipif(shutil.which("npx") is None, reason="Node is not installed")
def test_console_logic_passes_its_vitest_suite():
    if not (CONSOLE / "node_modules" / "vitest").is_dir():
        pytest.skip("console/node_modules is missing: `make test` runs npm ci first")
    run = subprocess.run(["npx", "--no-install", "vitest", "run", "--reporter=dot"], cwd=CONSOLE,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "passed" in run.stdout

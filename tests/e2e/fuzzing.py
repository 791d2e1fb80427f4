"""Running schemathesis against the launched platform: the services it needs, the data it is given
(make_data: a person, an enterprise, their ids), the parameters passed to its hooks."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.e2e.enterprise_people import apply, approve, messages, register, register_enterprise, wait_for

NEEDED = {"identity", "notify", "enterprise", "card", "authz", "audit", "gateway"}
LOGOUT = "/api/v1/sessions/current"
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "5"))
SEED = 20261201
CONFIG = Path(__file__).with_name("schemathesis.toml")
ROOT = Path(__file__).resolve().parents[2]


def schemathesis(base_url, token, parameters, tmp_path, *args, config=None, checks="all"):
    """`config` is the text of the project's settings (hooks, expected statuses); "" runs it plainly."""
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    settings = CONFIG.read_text(encoding="utf-8") if config is None else config
    config = tmp_path / "schemathesis.toml"
    lines = [settings, "", "[parameters]"]
    lines += [f'"{name}" = "{value}"' for name, value in parameters.items()]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cmd = [exe, "--config-file", str(config), "run", f"{base_url}/openapi.json", "--checks", checks,
           "-H", f"Authorization: Bearer {token}", "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
           "--workers", "1", "--request-timeout", "30", "--no-color",
           # a body of four patterned fields filters many draws; the draws that pass are what counts
           "--suppress-health-check", "filter_too_much", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=540, cwd=tmp_path,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return out.returncode, out.stdout + out.stderr


def make_data(api):
    admin, member, applicant = register(api), register(api), register(api)
    eid, uscc = register_enterprise(api, admin)
    approve(api, admin, apply(api, member, uscc))
    pending = apply(api, applicant, uscc)
    inbox = wait_for(lambda: messages(api, admin)["items"])
    return {"admin": admin, "enterprise_id": eid, "uscc": uscc, "user_id": member.user_id,
            "association_id": pending, "message_id": inbox[0]["message_id"]}


def params_of(data):
    return {f"path.{k}": data[k] for k in ("enterprise_id", "uscc", "user_id", "association_id", "message_id")}

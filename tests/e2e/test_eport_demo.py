"""`eport demo` runs the manual's whole story, card included, against the launched platform."""
import shutil

import pytest

from tests.eport_cli import eport

pytestmark = [pytest.mark.e2e, pytest.mark.card, pytest.mark.slow, pytest.mark.timeout(300)]


def test_the_demo_runs_the_whole_story_and_says_each_step(platform):
    if shutil.which("pcscd") is None:
        pytest.skip("pcscd is not installed (`make` installs deploy/apt-packages.txt)")
    if platform.env.get("CARD_CA_CERT"):
        pytest.skip("the platform trusts a CA of its own: the demo cannot issue a card for it")
    operator = (platform.broker_uris or {}).get("operator", platform.env["AMQP_URI"])
    auditor = (platform.broker_uris or {}).get("auditor", operator)  # the trail is the auditors' to read
    done = eport("demo", "--gateway", platform.base_url, amqp_uri=operator, check=False, timeout=240,
                 env={"EPORT_AUDITOR_AMQP_URI": auditor})
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    steps = [line for line in lines if line.startswith("[")]
    assert all(line.split(" ... ")[1].startswith("ok") for line in steps), done.stdout
    text = done.stdout
    for says in ("legal_person card", "logs in with the card", "association_requested", "manifest allowed",
                 "hands the administrator role", "unbinds the card", "AdminTransferred", "the whole story ran"):
        assert says in text, (says, text)
    assert lines[-1] == f"the whole story ran: {len(steps)} steps"
    refused = eport("demo", "--gateway", "http://127.0.0.1:1", amqp_uri=operator, check=False)
    assert refused.returncode == 3 and "no gateway" in refused.stderr and "Traceback" not in refused.stderr

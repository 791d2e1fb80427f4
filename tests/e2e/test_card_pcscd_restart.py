"""pcscd restarted under the card agent while it logs in by card again and again (the real chain:
pcscd, vpcd, the emulator, pyscard): the agent needs no restart of its own; once the reader is back
(the emulator plugs the card in again, as a reader re-enumerates) its logins work again; every
login the gateway acknowledged is a working session, recorded once in the audit log; a login
while pcscd was away fails with the agent's own error, never a 500."""
import os
import sqlite3
import threading
import time

import pytest

from deploy import pcsc
from eport_card.agent import AgentError, GatewayError
from eport_card.agent import login as agent_login
from tests.card.conftest import card_present, insert, pcscd, virtual_card, vpcd_reader  # noqa: F401 (fixtures)
from tests.e2e.card_binding_fixtures import PIN, admin, base, ca, enterprise, issue  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.card, pytest.mark.slow, pytest.mark.timeout(300)]


def wait_until(check, timeout, what):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.1)


class Logins(threading.Thread):
    def __init__(self, base_url):
        super().__init__(daemon=True)
        self.base_url, self.sessions, self.failures, self.stop = base_url, [], [], threading.Event()

    def run(self):
        deadline = time.monotonic() + 120
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                self.sessions.append(agent_login(self.base_url, PIN, card_timeout=1))
            except GatewayError as exc:
                self.failures.append(("gateway", exc.status, exc.code))
            except AgentError as exc:  # the reader or pcscd away: the agent says so
                self.failures.append(("agent", type(exc).__name__))
            time.sleep(0.1)


def restart_pcscd(daemon):
    if daemon.owned:  # ours: the session's fixture stops the new one at the end
        daemon.stop()
        new = pcsc.start(timeout=15)
        daemon.process, daemon.pid = new.process, new.pid
    else:
        pcsc.stop_daemon()
        pcsc.start_daemon(timeout=15)


def logged_in_events(user_id):
    db = sqlite3.connect(f"file:{os.path.join(os.environ['EPORT_VAR'], 'audit.db')}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute("SELECT COUNT(*) FROM audit_events WHERE event_type = 'UserLoggedIn' AND aggregate_id = ?",
                          (user_id,)).fetchone()[0]
    finally:
        db.close()


def test_card_logins_survive_a_pcscd_restart(base, ca, tmp_path, pcscd, vpcd_reader, insert, virtual_card,  # noqa: F811
                                              admin, enterprise):  # noqa: F811
    card = issue(ca, tmp_path, admin, card_type="legal_person", enterprise=enterprise)
    insert(card)
    admin.bind(enterprise)
    logins = Logins(base)
    logins.start()
    wait_until(lambda: len(logins.sessions) >= 2, 60, "card logins before the restart")
    before, old_pid = len(logins.sessions), pcsc.running_pid()
    restart_pcscd(pcscd)
    assert pcsc.running_pid() not in (None, old_pid), "pcscd was not restarted"
    virtual_card.remove()
    insert(card)  # the reader is back
    wait_until(lambda: len(logins.sessions) >= before + 2, 60, "card logins after the restart")
    logins.stop.set()
    logins.join(30)
    assert not [f for f in logins.failures if f[0] == "gateway" and (f[1] or 0) >= 500], logins.failures
    for session in logins.sessions:
        assert session["user_id"] == admin.user_id
        me = admin.http.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {session['access_token']}"},
                            timeout=30)
        assert me.status_code == 200, me.text
    # one UserLoggedIn per acknowledged login, and the password login of the fixture
    wait_until(lambda: logged_in_events(admin.user_id) >= len(logins.sessions) + 1, 30, "the audit log")
    time.sleep(1)
    assert logged_in_events(admin.user_id) == len(logins.sessions) + 1
    print(f"pcscd restart: {len(logins.sessions)} card logins acknowledged ({before} before), "
          f"failures while it was away: {logins.failures}")

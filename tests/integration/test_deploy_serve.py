"""The containers' entrypoint, `python -m deploy.serve <service>`, run for real against the test
broker: the service answers, and SIGTERM (what a container runtime sends) stops it cleanly."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import eventlet
import pytest
from nameko.standalone.rpc import ClusterRpcProxy

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def test_serve_runs_one_service_in_the_foreground_until_sigterm(config, fresh_var, tmp_path):
    env = dict(os.environ, EPORT_VAR=str(fresh_var), LOG_LEVEL="WARNING")
    log = open(tmp_path / "notify.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "deploy.serve", "notify"], cwd=tmp_path, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        with ClusterRpcProxy(config, timeout=5) as rpc:
            with eventlet.Timeout(60):
                while True:
                    try:
                        assert rpc.notify.ping() == "pong"
                        break
                    except eventlet.Timeout:
                        raise
                    except Exception:  # not up yet: its queue is there before it consumes
                        assert proc.poll() is None, (tmp_path / "notify.log").read_text()
                        eventlet.sleep(0.2)
        assert os.path.basename(_cmdline(proc.pid)[1]) == "nameko"  # it became the service itself
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, (tmp_path / "notify.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_names_the_services_when_asked_for_another():
    done = subprocess.run([sys.executable, "-m", "deploy.serve", "nothing"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0 and "identity" in done.stderr and "gateway" in done.stderr


def _cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [part.decode() for part in f.read().split(b"\0") if part]

"""Starts the whole platform: one `nameko run` process per service, then waits for /healthz.

    python -m deploy.launch            # what `make run` does; Ctrl-C stops everything
    python -m deploy.launch --only identity,gateway
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from nameko.utils import sanitize_url

from deploy.sms_display import OutboxFollower
from services.common.broker_addresses import each_address
from services.common.deployment import SERVICES, available_services
from services.common.settings import setting, var_dir
from services.notify.sms import outbox_path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "deploy" / "config.yaml"

def service_command(name):
    """The command that runs one service in the foreground (here, and in containers: deploy/serve.py)."""
    nameko = Path(sys.executable).with_name("nameko")
    return [str(nameko), "run", "--config", str(CONFIG), SERVICES[name]]


# glibc's malloc for every service process. argon2 (identity) allocates 19 MiB blocks: by default the
# first one freed lifts glibc's mmap threshold past them, and from then on each hashing thread's arena
# keeps its block (identity 140 -> 500 MB under load). A fixed threshold returns them to the system at
# each free, and two arenas bound what the other threads keep (DESIGN.md "Where identity's memory goes";
# bench/load.py --compare-malloc measures the cost in one run). The manifests set the same.
MALLOC_ENV = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "1048576"}

# eventlet's green DNS resolver (dnspython, imported twice, once patched): 7.5 MiB in each process. A
# service whose only peers are the broker, its store and Redis resolves their names once a connection,
# so it goes without (EVENTLET_NO_GREENDNS: the system's resolver, a lookup of a few ms holding up the
# process). These call hosts by name over HTTP, where a slow DNS answer must hold up that request
# alone: notify (the SMS provider), card (a CRL's URL), sso (business systems' logout endpoints).
GREEN_DNS_SERVICES = ("notify", "card", "sso")


def service_env(env, service=None):
    """`env` with the defaults every service process runs with (`service`'s own, when named)."""
    env = dict(env)
    for name, value in MALLOC_ENV.items():
        env.setdefault(name, value)
    if service is not None:
        env = own_env(env, service)
    env.setdefault("SMS_PROVIDER", "outbox")
    # eventlet announces its deprecation on every start; nameko 2.14 needs it all the same
    env.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning,ignore::Warning:nameko.cli.commands")
    return env


def own_env(env, service):
    """`env` with the defaults of `service`'s process alone."""
    if service in GREEN_DNS_SERVICES:
        return env
    return {"EVENTLET_NO_GREENDNS": "yes", **env}


def instance_names(name, count):
    """The processes of `count` instances of a service: its name, then `<name>#2`, `<name>#3`, ..."""
    return [name] + [f"{name}#{n}" for n in range(2, count + 1)]


class Platform:
    def __init__(self, env=None, only=None, log_dir=None, quiet=False, broker_uris=None, broker_file=None,
                 instances=None, instance_env=None):
        self.env = service_env(dict(os.environ, **(env or {})))
        # service -> how many instances (default one each), and `<name>#<n>` -> that instance's own
        # settings (a second gateway's GATEWAY_PORT)
        self.instances, self.instance_env = instances or {}, instance_env or {}
        # role -> AMQP URI of its own broker user (deploy/broker.py); else all share AMQP_URI
        self.broker_uris = broker_uris or {}
        # where those URIs are kept: read again at each start, so that a service restarted after
        # `python -m deploy.broker rotate` logs in with its new password
        self.broker_file = Path(broker_file) if broker_file else None
        self.services = {n: m for n, m in available_services().items() if not only or n in only}
        # the gateway's /healthz and its optional calls look at what was launched
        self.env["EPORT_SERVICES"] = ",".join(self.services)
        self.log_dir = Path(log_dir) if log_dir else None
        self.quiet = quiet
        self.procs = {}

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.env.get('GATEWAY_PORT', '8000')}"

    def say(self, text):
        if not self.quiet:
            print(f"[launch] {text}", flush=True)

    def start_one(self, name):
        service = name.split("#")[0]
        cmd = service_command(service)
        out = None
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{name}.log", "ab")
        if self.broker_file:
            self.broker_uris = json.loads(self.broker_file.read_text())
        env = dict(self.env, AMQP_URI=self.broker_uris[service]) if service in self.broker_uris else self.env
        env = own_env(dict(env, **self.instance_env.get(name, {})), service)
        self.procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out,
                                            stderr=subprocess.STDOUT if out else None)
        self.say(f"started {name} (pid {self.procs[name].pid})")

    def start(self, timeout=90):
        if not self.broker_uris:  # every service connects as AMQP_URI's user: no setup declared the exchanges
            declare_exchanges(self.env.get("AMQP_URI") or setting("AMQP_URI"))
        try:
            for service in self.services:
                for name in instance_names(service, self.instances.get(service, 1)):
                    self.start_one(name)
            if "gateway" in self.services:
                self.wait_healthy(timeout)
        except BaseException:  # leave nothing running behind a failed start
            self.stop()
            raise
        return self

    def _log_tail(self, name, lines=15):
        """The end of a service's log, when it has one, to say why it stopped."""
        if not self.log_dir or not (self.log_dir / f"{name}.log").exists():
            return ""
        tail = (self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()[-lines:]
        return ":\n  " + "\n  ".join(tail)

    def wait_healthy(self, timeout=90):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode} while starting{self._log_tail(name)}")
            try:
                r = requests.get(self.base_url + "/healthz", timeout=5)
                state = r.json().get("services")
                if r.status_code == 200:
                    self.say(f"all services up: {self.base_url}  (OpenAPI at /openapi.json)")
                    return
                if state != last:
                    self.say(f"waiting for services: {state}")
                    last = state
            except (requests.ConnectionError, requests.Timeout, ValueError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"platform not healthy after {timeout}s: {last}")

    def restart_exited(self):
        """Start again each service whose process exited (the launcher's supervision); their names."""
        restarted = []
        for name, proc in list(self.procs.items()):
            if proc.poll() is not None:
                self.say(f"{name} exited with {proc.returncode}; restarting")
                self.start_one(name)
                restarted.append(name)
        return restarted

    def stop_one(self, name, timeout=15):
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop(self, timeout=15):
        procs = [p for p in self.procs.values() if p.poll() is None]
        for proc in procs:  # all at once: each service takes a few seconds to wind down
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
        self.say("stopped")


def broker_users_file():
    return var_dir() / "broker-users.json"


def _broker_users():
    """Per-service broker users when this machine's RabbitMQ lets us make them (rabbitmqctl as
    root), with the passwords var/broker-users.json keeps (made by the first launch, reused by the
    next: a second launch, `--only identity` beside a running platform, must not change the running
    services' passwords); else every service connects as AMQP_URI's user, as before."""
    from . import broker
    try:
        uris = broker.setup(credentials_file=broker_users_file())
    except (broker.BrokerSetupFailed, OSError, subprocess.SubprocessError) as exc:
        print(f"[launch] no per-service broker users ({exc}); every service connects as AMQP_URI's user",
              flush=True)
        return None
    print(f"[launch] each service connects as its own broker user ({', '.join(sorted(uris))}; deploy/broker.py)",
          flush=True)
    return uris


def declare_exchanges(amqp_uri):
    """What setup would have declared, as `amqp_uri`'s user (a development broker's, which may):
    nameko-rpc, which no service declares, and the <source>.events. Services cope without them
    (their queues bind once the exchange appears), so a broker that refuses only costs a line."""
    from . import broker
    try:
        broker.declare_exchanges(amqp_uri)
    except Exception as exc:  # the broker may not be up yet, or refuse this user
        print(f"[launch] could not declare nameko-rpc and the <source>.events exchanges ({exc}); consumers bind "
              "once their sources declare them, RPC works once `python -m deploy.broker setup` declared nameko-rpc",
              flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated service names")
    args = parser.parse_args(argv)
    uris = _broker_users()
    platform = Platform(only=args.only.split(",") if args.only else None, broker_uris=uris,
                        broker_file=broker_users_file() if uris else None)
    shown = each_address(platform.env.get("AMQP_URI", "amqp://guest:guest@localhost:5672/"), sanitize_url)
    platform.say(f"AMQP_URI={shown}  "
                 f"event stores under {setting('EPORT_VAR') or ROOT / 'var'}")
    stopping = False

    def on_signal(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    phone = OutboxFollower(outbox_path()) if platform.env.get("SMS_PROVIDER") == "outbox" else None
    try:
        platform.start()
        while not stopping:
            for line in phone.poll() if phone else ():
                print(line, flush=True)
            platform.restart_exited()
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        platform.stop()


if __name__ == "__main__":
    main()

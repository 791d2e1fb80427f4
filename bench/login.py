"""Password logins per second through the gateway, beside the raw argon2id verify rate.

    python bench/login.py                      # what `make bench` runs
    python bench/login.py --users 40 --logins 600 --concurrency 8

Starts the platform (deploy.launch.Platform: the services a login needs, by default identity,
notify and gateway) on a free loopback port, with a temporary var/ directory and, when rabbitmqctl
is there, a temporary RabbitMQ vhost; registers --users users over HTTP (sms-code -> users ->
password, timed as a flow); logs them in --logins times with a thread pool of --concurrency
threads; and measures the raw argon2id verify rate of this machine in the same run, in one thread
and in two. Prints the figures and their ratios against the targets:
    >= 15 password logins/s per core (os.cpu_count())   and   >= 60% of the raw argon2id ceiling.
Every loop is bounded (counts and a time cap); it stops by itself and only talks to 127.0.0.1.
"""
import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import warnings  # noqa: E402

warnings.simplefilter("ignore")  # eventlet's deprecation notice, on importing the hasher below

from bench.broker import Vhost  # noqa: E402
from bench.http_client import KeepAlive  # noqa: E402
from bench.stats import capacity_env, free_port, percentile  # noqa: E402
from deploy.launch import Platform  # noqa: E402
from services.identity.passwords import ARGON2  # noqa: E402
from services.notify.sms import read_outbox  # noqa: E402
from tests.factories import new_id_number, new_mobile  # noqa: E402

PASSWORD = "bench passphrase of some length"
TARGET_PER_CORE = 15.0
TARGET_OF_CEILING = 0.60


# -- raw argon2id ---------------------------------------------------------------------------------
def raw_verify_rate(threads, seconds):
    """argon2id verifies per second with `threads` OS threads, each verifying for `seconds`."""
    password_hash = ARGON2.hash(PASSWORD)
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def work(i):
        while time.perf_counter() < deadline:
            ARGON2.verify(password_hash, PASSWORD)
            counts[i] += 1

    started = time.perf_counter()
    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts) / (time.perf_counter() - started)


# -- HTTP flows -----------------------------------------------------------------------------------
class Client:
    """The flows over bench.http_client.KeepAlive, one connection per thread."""

    def __init__(self, port, outbox):
        self.port = port
        self.outbox = outbox
        self.local = threading.local()

    @property
    def http(self):
        if not hasattr(self.local, "http"):
            self.local.http = KeepAlive(self.port, timeout=60)
        return self.local.http

    def post(self, path, body):
        return self.http.call("POST", path, body=body)

    def code_for(self, mobile, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = read_outbox(self.outbox, mobile)
            if found:
                return found[-1]["code"]
            time.sleep(0.02)
        raise RuntimeError("no SMS arrived")

    def register(self):
        mobile, id_number = new_mobile(), new_id_number()
        t = time.perf_counter()
        status, body = self.post("/api/v1/sms-codes", {"mobile": mobile, "purpose": "register"})
        assert status == 202, body
        status, user = self.post("/api/v1/users", {"name": "测试用户", "id_number": id_number, "mobile": mobile,
                                                   "sms_code": self.code_for(mobile)})
        assert status == 201, user
        status, body = self.http.call("PUT", f"/api/v1/users/{user['user_id']}/password",
                                      body={"password": PASSWORD, "password_setup_token": user["password_setup_token"]})
        assert status == 204, body
        return time.perf_counter() - t, (mobile, id_number)

    def login(self, account):
        t = time.perf_counter()
        status, body = self.post("/api/v1/sessions", {"method": "password", "account": account, "password": PASSWORD})
        assert status == 201, body
        return time.perf_counter() - t


def _proc_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def _broker_pid():
    """The RabbitMQ server on this machine (the oldest beam.smp), if there is one to look at."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == "beam.smp":
                        found.append((int(_proc_stat(entry)[19]), entry))  # start time
            except (OSError, IndexError, ValueError):
                pass
    return min(found)[1] if found else None


def cpu_seconds(platform, broker_pid):
    """CPU time used so far by each platform process, this benchmark (its client threads) and the
    broker (shared with whatever else uses it)."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = {name: proc.pid for name, proc in platform.procs.items()}
    if broker_pid:
        pids["rabbitmq (shared)"] = broker_pid
    used = {}
    for name, pid in pids.items():
        try:
            fields = _proc_stat(pid)
            used[name] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        except (OSError, IndexError, ValueError):
            pass
    me = resource.getrusage(resource.RUSAGE_SELF)
    used["bench client"] = me.ru_utime + me.ru_stime
    return used


def timed_pool(fn, items, concurrency, time_cap):
    """Runs fn over items with `concurrency` threads; stops taking new items after time_cap seconds."""
    started = time.perf_counter()
    deadline = started + time_cap

    def guarded(item):
        return fn(item) if time.perf_counter() < deadline else None

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = [r for r in pool.map(guarded, items) if r is not None]
    return results, time.perf_counter() - started


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--logins", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--time-cap", type=float, default=120.0, help="seconds per phase at most")
    parser.add_argument("--raw-seconds", type=float, default=4.0)
    parser.add_argument("--services", default="identity,notify,gateway",
                        help="comma-separated, or 'all' for every service the launcher knows")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1

    print(f"machine: {cores} cores (os.cpu_count()), load average {os.getloadavg()[0]:.2f} "
          f"(other work on the machine lowers every figure); "
          f"argon2id memory_cost=19456 KiB, time_cost=2, parallelism=1")
    raw_before = raw_verify_rate(1, args.raw_seconds), raw_verify_rate(2, args.raw_seconds)
    print(f"raw argon2id verify, before: {raw_before[0]:.1f}/s in 1 thread, {raw_before[1]:.1f}/s in 2 threads")

    var = tempfile.mkdtemp(prefix="eport-bench-")
    outbox = os.path.join(var, "sms-outbox.jsonl")
    base_amqp = os.environ.get("AMQP_URI", "amqp://guest:guest@localhost:5672/")
    with Vhost(base_amqp) as amqp_uri:
        port = free_port()
        env = {"GATEWAY_PORT": str(port), "GATEWAY_HOST": "127.0.0.1", "EPORT_VAR": var, "SMS_OUTBOX": outbox,
               "SMS_PROVIDER": "outbox", "AMQP_URI": amqp_uri, "LOG_LEVEL": "WARNING", **capacity_env()}
        os.environ.update(env)  # this process reads the SMS outbox with the platform's keys and secrets
        only = None if args.services == "all" else args.services.split(",")
        platform = Platform(env=env, only=only, log_dir=os.path.join(var, "logs"), quiet=True)
        print(f"platform: {', '.join(platform.services)} on {platform.base_url}, var {var}, "
              f"vhost {amqp_uri.rsplit('/', 1)[-1] or '/'}")
        try:
            platform.start(timeout=120)
            client = Client(port, outbox)

            flows, took = timed_pool(lambda _: client.register(), range(args.users), args.concurrency, args.time_cap)
            accounts = [acct for _, acct in flows]
            durations = [d for d, _ in flows]
            print(f"registration (sms-code -> users -> password), {args.concurrency} threads: "
                  f"{len(flows)} in {took:.1f}s = {len(flows) / took:.1f} flows/s; "
                  f"p50 {statistics.median(durations) * 1000:.0f} ms, p95 {percentile(durations, 95) * 1000:.0f} ms")

            # warm-up: every connection and code path once
            timed_pool(lambda i: client.login(accounts[i % len(accounts)][0]), range(args.concurrency * 2),
                       args.concurrency, args.time_cap)
            # alternate the account name: mobile, then ID number
            items = [accounts[i % len(accounts)][(i // len(accounts)) % 2] for i in range(args.logins)]
            broker = _broker_pid()
            cpu_before = cpu_seconds(platform, broker)
            latencies, took = timed_pool(client.login, items, args.concurrency, args.time_cap)
            cpu_after = cpu_seconds(platform, broker)
        finally:
            platform.stop()
            shutil.rmtree(var, ignore_errors=True)

    # Measured again after the logins, under the same conditions as they ran; the mean is the ceiling.
    raw_after = raw_verify_rate(1, args.raw_seconds), raw_verify_rate(2, args.raw_seconds)
    print(f"raw argon2id verify, after: {raw_after[0]:.1f}/s in 1 thread, {raw_after[1]:.1f}/s in 2 threads; "
          f"load average {os.getloadavg()[0]:.2f}")
    raw_1 = (raw_before[0] + raw_after[0]) / 2
    raw_2 = (raw_before[1] + raw_after[1]) / 2
    rate = len(latencies) / took
    per_login = {name: (cpu_after[name] - cpu_before[name]) / len(latencies) * 1000
                 for name in cpu_after if name in cpu_before}
    per_core = rate / cores
    ceiling = max(raw_1, raw_2)
    print(f"password logins through the gateway, {args.concurrency} threads: {len(latencies)} in {took:.1f}s "
          f"= {rate:.1f} logins/s; p50 {statistics.median(latencies) * 1000:.0f} ms, "
          f"p95 {percentile(latencies, 95) * 1000:.0f} ms")
    total_ms = sum(per_login.values())
    print("CPU per login: " + ", ".join(f"{name} {ms:.1f} ms" for name, ms in per_login.items()) +
          f"; total {total_ms:.1f} ms, of which one argon2id verify is about {1000 / raw_1:.1f} ms "
          f"({1000 / raw_1 / total_ms:.0%})")
    print(f"CPU-normalised: {1000 / total_ms:.1f} logins per CPU-second used = what one core of its own "
          f"would do (other work on the machine does not lower this figure)")
    print(f"per core: {per_core:.1f} logins/s/core (target >= {TARGET_PER_CORE:.0f}: "
          f"{'met' if per_core >= TARGET_PER_CORE else 'NOT met'})")
    print(f"raw argon2id verify, mean: {raw_1:.1f}/s in 1 thread, {raw_2:.1f}/s in 2 threads")
    print(f"of the raw argon2id ceiling ({ceiling:.1f}/s): {rate / ceiling:.0%} (target >= {TARGET_OF_CEILING:.0%}: "
          f"{'met' if rate / ceiling >= TARGET_OF_CEILING else 'NOT met'}); "
          f"of one thread's rate ({raw_1:.1f}/s): {rate / raw_1:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The manual's whole story with N concurrent virtual users, through the gateway.

    python bench/load.py                          # what `make bench` runs
    python bench/load.py --users 8 --stories 48 --time-cap 180
    python bench/load.py --users 8 --duration 600   # ten minutes of load: is identity's RSS stable?
    python bench/load.py --users 8 --stories 100 --compare-malloc   # glibc defaults, then MALLOC_ENV

Each story: an administrator asks for an SMS code, registers, sets a password, logs in, associates
as the administrator of a new enterprise and certifies the role by binding a legal-person card of
the development CA (the benchmark signs the challenge as the card would: ECDSA P-256 over SHA-256
of the nonce, with the card's key); a member registers the same way and applies; the administrator
approves and grants a business system; the member checks it; the administrator logs in by card.

Starts the whole platform (deploy.launch.Platform) on a free loopback port, with a temporary var/
(its development card CA made there first, so the benchmark can issue cards of it) and a temporary
RabbitMQ vhost. Baseline, in the same run: the same stories by one virtual user, one at a time; then
--users at once. Prints per step p50/p95/p99, throughput, errors by step and status, the ratios
against the baseline, and the RSS of every process idle and under load (the highest sample), against
the targets, each PASS or FAIL: the whole platform (every service process; sso's too, and the gateway's,
which serves the console) idle <= 600 MiB, under load <= 750 MiB, identity's peak <= its hash threads
times argon2's 19 MiB plus a fixed margin; with a --duration of 4 minutes or more, identity stable (the
highest minute-end RSS of the run's second half at most one argon2 block above the first half's).
Every loop is bounded (counts and a time cap); it only talks to 127.0.0.1.
"""
import argparse
import base64
import collections
import os
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

warnings.simplefilter("ignore")  # eventlet's deprecation notice

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from bench.broker import Vhost  # noqa: E402
from bench.http_client import KeepAlive  # noqa: E402
from bench.stats import capacity_env, free_port, percentile  # noqa: E402
from deploy.launch import MALLOC_ENV, Platform  # noqa: E402
from eport_card.devca import create_ca, issue_card, save_ca  # noqa: E402
from services.card.trust import DEV_CA_DIRNAME  # noqa: E402
from services.notify.sms import read_outbox  # noqa: E402
from tests.factories import new_id_number, new_mobile, new_uscc  # noqa: E402

PASSWORD = "bench passphrase of some length"
SYSTEM = "cargo_declaration"
STEPS = ("sms-code", "register", "password", "login", "associate", "card-challenge", "bind", "apply",
         "approve", "grant", "check", "card-login")


class Failed(Exception):
    pass


class NotYet(Exception):
    """An answer that says "not yet" (a read model an event behind): asked again."""


class Stories:
    """The story's steps over KeepAlive connections (one per thread), timing each request."""

    def __init__(self, port, outbox, ca):
        self.port, self.outbox, self.ca = port, outbox, ca
        self.local = threading.local()
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.latencies = collections.defaultdict(list)  # step -> seconds
        self.errors = collections.Counter()  # (step, status) -> count
        self.waits = []  # seconds a grant waited for authz to learn the approval (an event away)

    def grant(self, admin, eid, member, timeout=10.0):
        """Grant once authz has learnt the approval: until then the member is NOT_A_MEMBER to it."""
        began = time.perf_counter()
        path = f"/api/v1/enterprises/{eid}/members/{member['user_id']}/permissions"
        while True:
            try:
                answer = self.call("grant", "PUT", path, 200, admin["token"], body={"systems": [SYSTEM]},
                                   not_yet=409)
                with self.lock:
                    self.waits.append(time.perf_counter() - began)
                return answer
            except NotYet:
                if time.perf_counter() - began > timeout:
                    raise Failed("grant", "authz never learnt the approval", None) from None
                time.sleep(0.02)

    def call(self, step, method, path, ok, token=None, body=None, params=None, not_yet=None):
        if not hasattr(self.local, "http"):
            self.local.http = KeepAlive(self.port, timeout=60)
        t = time.perf_counter()
        try:
            status, answer = self.local.http.call(method, path, token=token, body=body, params=params)
        except OSError:
            self.local.http = KeepAlive(self.port, timeout=60)
            status, answer = "no answer", None
        took = time.perf_counter() - t
        if status == not_yet:
            raise NotYet()
        with self.lock:
            if status == ok:
                self.latencies[step].append(took)
            else:
                self.errors[(step, status)] += 1
        if status != ok:
            raise Failed(step, status, answer)
        return answer

    def code_for(self, mobile, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = read_outbox(self.outbox, mobile)
            if found:
                return found[-1]["code"]
            time.sleep(0.02)
        raise Failed("sms", "no SMS arrived", None)

    def person(self, name):
        mobile, id_number = new_mobile(), new_id_number()
        self.call("sms-code", "POST", "/api/v1/sms-codes", 202, body={"mobile": mobile, "purpose": "register"})
        user = self.call("register", "POST", "/api/v1/users", 201, body={
            "name": name, "id_number": id_number, "mobile": mobile, "sms_code": self.code_for(mobile)})
        self.call("password", "PUT", f"/api/v1/users/{user['user_id']}/password", 204,
                  body={"password": PASSWORD, "password_setup_token": user["password_setup_token"]})
        token = self.call("login", "POST", "/api/v1/sessions", 201, body={
            "method": "password", "account": mobile, "password": PASSWORD})["access_token"]
        return {"user_id": user["user_id"], "name": name, "id_number": id_number, "token": token}

    def signed(self, card, challenge):
        key = serialization.load_pem_private_key(card.private_key_pem.encode(), password=None)
        signature = key.sign(base64.b64decode(challenge["nonce"]), ec.ECDSA(hashes.SHA256()))
        return {"challenge_id": challenge["challenge_id"], "certificate": card.certificate_pem,
                "signature": base64.b64encode(signature).decode()}

    def story(self, _=None):
        t = time.perf_counter()
        admin = self.person("王管理")
        uscc = new_uscc()
        enterprise = self.call("associate", "POST", "/api/v1/associations", 201, admin["token"], body={
            "uscc": uscc, "role": "admin", "name": "压测贸易有限公司", "address": "杭州", "business_scope": "进出口"})
        eid = enterprise["enterprise_id"]
        card = issue_card(self.ca, card_no=f"88{time.time_ns() % 10**11:011d}", card_type="legal_person",
                          holder_name=admin["name"], holder_id_number=admin["id_number"], uscc=uscc,
                          pin_hash_iterations=1000)
        challenge = self.call("card-challenge", "POST", "/api/v1/card-challenges", 201, admin["token"],
                              body={"purpose": "bind", "card_no": card.card_no})
        bound = self.call("bind", "POST", f"/api/v1/enterprises/{eid}/card", 201, admin["token"],
                          body={"card_no": card.card_no, **self.signed(card, challenge)})
        if bound.get("role_certified") is False:
            raise Failed("bind", "the legal-person card certified nothing", bound)
        member = self.person("李成员")
        applied = self.call("apply", "POST", "/api/v1/associations", 202, member["token"],
                            body={"uscc": uscc, "role": "user"})
        self.call("approve", "POST", f"/api/v1/association-requests/{applied['association_id']}/approve", 200,
                  admin["token"])
        self.grant(admin, eid, member)
        allowed = self.call("check", "GET", "/api/v1/authz/check", 200, member["token"],
                            params={"user_id": member["user_id"], "enterprise_id": eid, "system": SYSTEM})
        if not allowed["allowed"]:
            raise Failed("check", "not allowed", allowed)
        challenge = self.call("card-challenge", "POST", "/api/v1/card-challenges", 201,
                              body={"purpose": "login", "card_no": card.card_no})
        session = self.call("card-login", "POST", "/api/v1/sessions", 201,
                            body={"method": "card", **self.signed(card, challenge)})
        if session["user_id"] != admin["user_id"]:
            raise Failed("card-login", "another user", session)
        return time.perf_counter() - t


def run_phase(stories, users, count, time_cap):
    """`count` stories (None: as many as `time_cap` allows) by `users` threads; (durations of the
    completed ones, seconds, failures)."""
    stories.reset()
    deadline = time.perf_counter() + time_cap
    failures = collections.Counter()

    def guarded(i):
        if time.perf_counter() > deadline:
            return None
        try:
            return stories.story(i)
        except Failed as exc:
            failures[exc.args[0]] += 1
            return None

    def endless(_):  # count None: each user tells stories until the time cap
        finished = []
        while time.perf_counter() < deadline:
            finished.append(guarded(None))
        return finished

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=users) as pool:
        if count is None:
            done = [d for each in pool.map(endless, range(users)) for d in each if d is not None]
        else:
            done = [d for d in pool.map(guarded, range(count)) if d is not None]
    return done, time.perf_counter() - started, failures


def rss_mib(platform):
    found = {}
    for name, proc in platform.procs.items():
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            found[name] = kib / 1024
        except (OSError, StopIteration):
            pass
    return found


class RssSampler(threading.Thread):
    """The highest RSS of each process while the load runs, sampled twice a second."""

    def __init__(self, platform):
        super().__init__(daemon=True)
        self.platform, self.peak, self.stop = platform, {}, threading.Event()
        self.minutes = []  # identity's RSS at the end of each minute: stable, or growing?

    def run(self):
        began = time.monotonic()
        while not self.stop.wait(0.5):
            sample = rss_mib(self.platform)
            for name, mib in sample.items():
                self.peak[name] = max(self.peak.get(name, 0), mib)
            if time.monotonic() - began >= 60 * (len(self.minutes) + 1):
                self.minutes.append(sample.get("identity", 0))


def report(label, done, took, stories, failures):
    requests = sum(len(v) for v in stories.latencies.values())
    print(f"{label}: {len(done)} stories in {took:.1f}s = {len(done) / took:.2f} stories/s, "
          f"{requests / took:.1f} requests/s; story p50 {statistics.median(done):.2f}s" if done else
          f"{label}: no story completed in {took:.1f}s")
    for step in STEPS:
        values = stories.latencies.get(step)
        if values:
            print(f"  {step:15} n={len(values):4}  p50 {percentile(values, 50) * 1000:7.1f} ms  "
                  f"p95 {percentile(values, 95) * 1000:7.1f} ms  p99 {percentile(values, 99) * 1000:7.1f} ms")
    errors = dict(stories.errors)
    print(f"  errors: {errors or 'none'}; stories failed: {dict(failures) or 'none'}")
    if stories.waits:
        print(f"  approve -> grant accepted (authz learning the approval, retried every 20 ms): "
              f"p50 {percentile(stories.waits, 50) * 1000:.0f} ms, p95 {percentile(stories.waits, 95) * 1000:.0f} ms")
    return len(done) / took if done else 0.0


IDLE_TARGET_MIB, LOAD_TARGET_MIB, ARGON2_MIB, IDENTITY_MARGIN_MIB = 600, 750, 19, 128


def identity_bound():
    """Identity's RSS bound: its hash threads (IDENTITY_HASH_THREADS, default cores + 1) times
    argon2's 19 MiB, plus a fixed margin for the interpreter, its libraries and caches."""
    threads = int(os.environ.get("IDENTITY_HASH_THREADS") or (os.cpu_count() or 1) + 1)
    return threads * ARGON2_MIB + IDENTITY_MARGIN_MIB


# --compare-malloc: the same run under each, glibc's defaults first
MALLOC_VARIANTS = {"glibc defaults": {}, "MALLOC_ARENA_MAX=2 alone": {"MALLOC_ARENA_MAX": "2"},
                   "MALLOC_MMAP_THRESHOLD_ alone": {"MALLOC_MMAP_THRESHOLD_": "1048576"},
                   "the launcher's MALLOC_ENV": MALLOC_ENV}


def measure(args, malloc):
    """One platform, its baseline and concurrent phases, with the malloc settings `malloc` instead
    of the launcher's MALLOC_ENV. Answers the figures main() prints."""
    var = tempfile.mkdtemp(prefix="eport-bench-load-")
    ca = create_ca()
    save_ca(ca, Path(var) / DEV_CA_DIRNAME)  # the card service trusts the CA it finds there
    outbox = os.path.join(var, "sms-outbox.jsonl")
    with Vhost(os.environ.get("AMQP_URI", "amqp://guest:guest@localhost:5672/")) as amqp_uri:
        port = free_port()
        env = {"GATEWAY_PORT": str(port), "GATEWAY_HOST": "127.0.0.1", "EPORT_VAR": var, "SMS_OUTBOX": outbox,
               "SMS_PROVIDER": "outbox", "AMQP_URI": amqp_uri, "LOG_LEVEL": "WARNING",
               "EPORT_ENV": "development", **capacity_env()}
        os.environ.update(env)  # this process reads the SMS outbox with the platform's keys and secrets
        platform = Platform(env=env, log_dir=os.path.join(var, "logs"), quiet=True)
        for name in MALLOC_ENV:
            platform.env.pop(name, None)
        platform.env.update(malloc)
        print(f"platform: {', '.join(platform.services)} on {platform.base_url}; malloc: "
              f"{', '.join(f'{k}={platform.env[k]}' for k in MALLOC_ENV if k in platform.env) or 'glibc defaults'}")
        try:
            return run_platform(args, platform, var, port, outbox, ca)
        finally:
            platform.stop()
            shutil.rmtree(var, ignore_errors=True)


def run_platform(args, platform, var, port, outbox, ca):
    try:
        platform.start(timeout=120)
    except RuntimeError:  # say why before the var/ with the logs goes
        for log in sorted(Path(var, "logs").glob("*.log")):
            print(f"--- {log.name}:", *log.read_text(errors="replace").splitlines()[-15:], sep="\n")
        raise
    stories = Stories(port, outbox, ca)
    run_phase(stories, 1, 1, args.time_cap)  # warm-up: every connection and code path once
    time.sleep(2)
    idle = rss_mib(platform)
    done, took, failures = run_phase(stories, 1, args.baseline_stories, args.time_cap)
    base_rate = report("baseline, 1 virtual user", done, took, stories, failures)
    base_p50 = {s: statistics.median(v) for s, v in stories.latencies.items() if v}
    sampler = RssSampler(platform)
    sampler.start()
    count, cap = (None, args.duration) if args.duration else (args.stories, args.time_cap)
    done, took, failures = run_phase(stories, args.users, count, cap)
    sampler.stop.set()
    sampler.join()
    rate = report(f"{args.users} virtual users", done, took, stories, failures)
    p50 = {s: statistics.median(v) for s, v in stories.latencies.items() if v}
    return {"services": list(platform.services), "idle": idle, "peak": sampler.peak, "rate": rate,
            "base_rate": base_rate, "p50": p50, "base_p50": base_p50, "minutes": sampler.minutes}


def print_memory(figures):
    idle, peak = figures["idle"], figures["peak"]
    print("RSS MiB idle -> under load (peak): " +
          ", ".join(f"{n} {idle.get(n, 0):.0f} -> {peak.get(n, 0):.0f}" for n in figures["services"]) +
          f"; total {sum(idle.values()):.0f} -> {sum(peak.values()):.0f}")
    minutes = figures["minutes"]
    if minutes:
        print("identity's RSS at the end of each minute of load (MiB): " + ", ".join(f"{m:.0f}" for m in minutes))
    bound = identity_bound()
    for what, value, target in (("idle total", sum(idle.values()), IDLE_TARGET_MIB),
                                ("under load total", sum(peak.values()), LOAD_TARGET_MIB),
                                ("identity peak", max((v for n, v in peak.items() if n.split("#")[0] == "identity"),
                                                       default=0), bound)):
        print(f"  {'PASS' if value <= target else 'FAIL'} {what}: {value:.0f} <= {target:.0f} MiB")
    if len(minutes) >= 4:  # stable: the second half of the run's minutes no higher than the first's and a block
        first, second = max(minutes[:len(minutes) // 2]), max(minutes[len(minutes) // 2:])
        print(f"  {'PASS' if second <= first + ARGON2_MIB else 'FAIL'} identity stable: highest minute's end "
              f"{second:.0f} MiB in the second half <= {first:.0f} of the first + {ARGON2_MIB} MiB")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=6, help="concurrent virtual users")
    parser.add_argument("--stories", type=int, default=36, help="stories of the concurrent phase")
    parser.add_argument("--baseline-stories", type=int, default=6, help="stories of the one-user phase")
    parser.add_argument("--time-cap", type=float, default=180.0, help="seconds per phase at most")
    parser.add_argument("--duration", type=float, default=0.0,
                        help="seconds of concurrent load, stories without end (instead of --stories)")
    parser.add_argument("--compare-malloc", action="store_true",
                        help="the same run under each of MALLOC_VARIANTS, glibc's defaults first")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    print(f"machine: {cores} cores (os.cpu_count()), load average {os.getloadavg()[0]:.2f} "
          f"(other work on the machine lowers every figure)")
    runs = MALLOC_VARIANTS if args.compare_malloc else {"the launcher's MALLOC_ENV": MALLOC_ENV}
    results = {label: measure(args, malloc) for label, malloc in runs.items()}
    for label, figures in results.items():
        print(f"--- malloc: {label}:")
        if figures["base_rate"]:
            print(f"throughput ratio, {args.users} users / 1 user: {figures['rate'] / figures['base_rate']:.2f}x "
                  f"(stories/s); p50 ratio per step: " + ", ".join(
                      f"{s} {figures['p50'][s] / figures['base_p50'][s]:.1f}x" for s in STEPS
                      if s in figures["p50"] and s in figures["base_p50"]))
        print_memory(figures)
    first = next(iter(results.values()))["rate"]
    for label, figures in list(results.items())[1:] if first else ():
        print(f"throughput, {label} / glibc defaults, same run: {figures['rate']:.2f} / {first:.2f} stories/s "
              f"= {figures['rate'] / first:.2f}x")
    print(f"load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

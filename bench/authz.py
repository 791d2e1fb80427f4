"""Benchmark of permission checks: RPC and HTTP, beside a bare Nameko RPC echo, and how soon a
grant or revoke is visible to checks.

    .venv/bin/python bench/authz.py [--seconds 4] [--rpc-concurrency 10] [--http-concurrency 8]
                                    [--rate 300] [--paced-seconds 10] [--trials 50] [--profile DIR]

It starts what it needs on loopback: a RabbitMQ vhost of its own (with rabbitmqctl, else the
AMQP_URI vhost), the platform's identity, notify, enterprise, authz and gateway as processes
(deploy.launch.Platform, temporary EPORT_VAR, free port), and the echo service as one more
`nameko run` process with the same config, so both sides of the ratio pay the same costs.

Three gateway instances: `gateway` and `gateway#2` as deployed (each repeating authz's answers,
gateway/check_answers.py), and `gateway#3` with GATEWAY_CHECK_ANSWER_SECONDS=0, which asks authz
on every check: the baseline, measured in the same run. Grants and revokes are PUT through one of
the first two and checked through the other, whose copy of the old answer was taken just before.

Targets: RPC checks >= 80% of the echo's throughput; HTTP checks >= 1,000/s closed loop; HTTP p99
<= 10 ms at 300 checks/s (open loop); a grant/revoke visible to the very next check after its PUT
returned in every trial (50 of 50), and within 100 ms (p99). The echo, measured in the same run, is
the yardstick for the machine's load: each figure is printed beside it.

--profile DIR samples the gateway (the first: answers kept) and authz with py-spy during its HTTP
closed loop (bench/profiling.py) and prints where their busy time went, per part; DIR keeps
py-spy's collapsed stacks.
"""
if __name__ == "__main__":
    import eventlet

    eventlet.monkey_patch()

import argparse  # noqa: E402
import gc  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.broker import Vhost  # noqa: E402
from bench.stats import capacity_env, free_port  # noqa: E402
from bench.http_client import KeepAlive as Client  # noqa: E402
from services.common.rpc import rpc  # noqa: E402

SERVICES = ["identity", "notify", "enterprise", "card", "authz", "gateway"]  # card: the admin certifies by card
PASSWORD = "Eport#Bench2024strong"


class EchoService:
    """The yardstick: a Nameko RPC that does nothing, with the same arguments as `check`."""
    name = "bench_echo"

    @rpc
    def check(self, user_id, enterprise_id, system):
        return True

    @rpc
    def ping(self):
        return "pong"


# -- set-up ----------------------------------------------------------------------------------------
def must(result, status, what):
    got, body = result
    if got != status:
        raise SystemExit(f"set-up failed at {what}: {got} {body}")
    return body


def register(client):
    from tests.factories import new_id_number, new_mobile
    from tests.sms import latest_code
    mobile, id_number = new_mobile(), new_id_number()
    must(client.call("POST", "/api/v1/sms-codes", body={"mobile": mobile, "purpose": "register"}), 202, "sms")
    user = must(client.call("POST", "/api/v1/users", body={
        "name": "王基准", "id_type": "resident_id", "id_number": id_number, "mobile": mobile,
        "sms_code": latest_code(mobile, "register")}), 201, "register")
    must(client.call("PUT", f"/api/v1/users/{user['user_id']}/password",
                     body={"password": PASSWORD, "password_setup_token": user["password_setup_token"]}),
         204, "password")
    session = must(client.call("POST", "/api/v1/sessions", body={"method": "password", "account": mobile,
                                                                 "password": PASSWORD}), 201, "login")
    return {"user_id": user["user_id"], "token": session["access_token"], "name": "王基准", "id_number": id_number,
            "mobile": mobile}


def certify(client, admin, eid, uscc):
    """The administrator's role certified (角色认证): a legal-person card of the enterprise, issued
    to the admin by the platform's development CA, bound through the API (an uncertified admin
    may not approve or grant)."""
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.e2e.certification import new_card

    card = new_card(admin["name"], admin["id_number"], uscc)
    challenge = must(client.call("POST", "/api/v1/card-challenges", admin["token"],
                                 {"purpose": "bind", "card_no": card.card_no}), 201, "card challenge")
    key = serialization.load_pem_private_key(card.private_key_pem.encode(), password=None)
    signature = key.sign(base64.b64decode(challenge["nonce"]), ec.ECDSA(hashes.SHA256()))
    bound = must(client.call("POST", f"/api/v1/enterprises/{eid}/card", admin["token"], {
        "card_no": card.card_no, "challenge_id": challenge["challenge_id"], "certificate": card.certificate_pem,
        "signature": base64.b64encode(signature).decode()}), 201, "bind the legal-person card")
    if not bound.get("role_certified"):
        raise SystemExit(f"set-up failed at bind: the legal-person card certified nothing: {bound}")


def build_enterprise(client, members):
    from tests.factories import new_uscc
    admin = register(client)
    people = [register(client) for _ in range(members)]
    uscc = new_uscc()
    eid = must(client.call("POST", "/api/v1/associations", admin["token"], {
        "uscc": uscc, "role": "admin", "name": "宁波基准测试有限公司", "address": "宁波", "business_scope": "贸易"}),
        201, "register enterprise")["enterprise_id"]
    certify(client, admin, eid, uscc)
    for p in people:
        a = must(client.call("POST", "/api/v1/associations", p["token"], {"uscc": uscc, "role": "user"}), 202, "apply")
        must(client.call("POST", f"/api/v1/association-requests/{a['association_id']}/approve", admin["token"]),
             200, "approve")
    deadline = time.monotonic() + 30
    for p in people:  # authz learns memberships from the enterprise events
        path = f"/api/v1/enterprises/{eid}/members/{p['user_id']}/permissions"
        while client.call("PUT", path, admin["token"], {"systems": ["manifest"]})[0] != 200:
            if time.monotonic() > deadline:
                raise SystemExit("authz did not learn the memberships in 30 s")
            time.sleep(0.05)
    return eid, admin, people


# -- measuring ------------------------------------------------------------------------------------
def pct(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] if s else float("nan")


def summary(latencies_s, elapsed_s):
    ms = [x * 1000 for x in latencies_s]
    return {"n": len(ms), "per_s": len(ms) / elapsed_s, "p50": pct(ms, 50), "p95": pct(ms, 95), "p99": pct(ms, 99),
            "max": max(ms) if ms else float("nan")}


def fmt(name, s):
    return (f"  {name:<34} {s['per_s']:8.0f}/s   p50 {s['p50']:6.2f} ms   p95 {s['p95']:6.2f} ms   "
            f"p99 {s['p99']:6.2f} ms   max {s['max']:7.2f} ms   (n={s['n']})")


def rpc_closed_loop(amqp_uri, service, args_of, concurrency, seconds):
    """`concurrency` green threads, each with its own ClusterRpcProxy, calling as fast as answered."""
    import eventlet
    from nameko.standalone.rpc import ClusterRpcProxy
    config = {"AMQP_URI": amqp_uri, "serializer": "json"}
    proxies = [ClusterRpcProxy(config) for _ in range(concurrency)]
    clients = [p.start() for p in proxies]
    for c in clients:  # warm-up: reply queues declared, connections open
        for _ in range(20):
            getattr(c, service).check(*args_of(0))
    latencies = []
    stop_at = time.perf_counter() + seconds

    def worker(c, k):
        i = 0
        method = getattr(c, service).check
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            method(*args_of(k + i))
            latencies.append(time.perf_counter() - t0)
            i += 1

    start = time.perf_counter()
    pool = eventlet.GreenPool(concurrency)
    for k, c in enumerate(clients):
        pool.spawn(worker, c, k)
    pool.waitall()
    elapsed = time.perf_counter() - start
    for p in proxies:
        p.stop()
    return summary(latencies, elapsed)


def http_closed_loop(port, requests_of, concurrency, seconds):
    import eventlet
    latencies, errors = [], []
    stop_at = time.perf_counter() + seconds

    def worker(k):
        client, i = Client(port), 0
        while time.perf_counter() < stop_at:
            path, token, params = requests_of(k + i)
            t0 = time.perf_counter()
            status, _ = client.call("GET", path, token, params=params)
            latencies.append(time.perf_counter() - t0)
            if status != 200:
                errors.append(status)
            i += 1

    start = time.perf_counter()
    pool = eventlet.GreenPool(concurrency)
    for k in range(concurrency):
        pool.spawn(worker, k)
    pool.waitall()
    return summary(latencies, time.perf_counter() - start), errors


def http_open_loop(port, requests_of, rate, seconds, connections=16, source=None):
    """Requests started on a fixed schedule (not when the previous one answered); each latency is
    measured from its scheduled start, so a stall shows up instead of slowing the sender down."""
    import eventlet
    from eventlet.queue import LightQueue
    idle = LightQueue()
    for _ in range(connections):
        c = Client(port, source=source)
        path, token, params = requests_of(0)
        c.call("GET", path, token, params=params)  # opens the connection
        idle.put(c)
    latencies, errors = [], []
    total = int(rate * seconds)
    interval = 1.0 / rate
    pool = eventlet.GreenPool(connections * 4)

    def one(i, scheduled):
        client = idle.get()
        try:
            path, token, params = requests_of(i)
            status, _ = client.call("GET", path, token, params=params)
            latencies.append(time.perf_counter() - scheduled)
            if status != 200:
                errors.append(status)
        finally:
            idle.put(client)

    start = time.perf_counter()
    for i in range(total):
        scheduled = start + i * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            eventlet.sleep(delay)
        pool.spawn(one, i, scheduled)
    pool.waitall()
    return summary(latencies, time.perf_counter() - start), errors


def sequential(fn, n):
    for _ in range(10):
        fn()
    latencies = []
    start = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        latencies.append(time.perf_counter() - t0)
    return summary(latencies, time.perf_counter() - start)


def breakdown(port, amqp_uri, eid, member, n=200):
    """One call at a time: what each hop of the HTTP check costs on its own."""
    from nameko.standalone.rpc import ClusterRpcProxy
    client = Client(port)
    params = {"user_id": member["user_id"], "enterprise_id": eid, "system": "manifest"}
    with ClusterRpcProxy({"AMQP_URI": amqp_uri, "serializer": "json"}) as r:
        rows = [
            ("echo (bare Nameko RPC)", lambda: r.bench_echo.check(member["user_id"], eid, "manifest")),
            ("authz.check", lambda: r.authz.check(member["user_id"], eid, "manifest")),
            ("authz.check_as", lambda: r.authz.check_as(member["user_id"], member["user_id"], eid, "manifest")),
            ("identity.authenticate", lambda: r.identity.authenticate(member["token"])),
            ("HTTP GET /api/v1/authz/check", lambda: client.call("GET", "/api/v1/authz/check", member["token"],
                                                                 params=params)),
            ("HTTP GET /api/v1/systems (no auth)", lambda: client.call("GET", "/api/v1/systems")),
        ]
        return [(name, sequential(fn, n)) for name, fn in rows]


def grant_visible_latency(ports, eid, admin, member, trials, system="bonded_logistics"):
    """PUT grant (or revoke) returns -> poll the HTTP check until it shows the change.

    The PUT goes through one gateway instance and the checks through the other (they swap every
    trial), which is asked just before the PUT, so that it holds a copy of the old answer.
    Two figures per trial: `staleness`, from the PUT's return to the sending of the first check
    that showed the change (how long checks could still answer the old value), and `answered`,
    to that check's answer (staleness plus one HTTP check round trip)."""
    clients = [Client(port) for port in ports]
    pollers = [Client(port) for port in ports]
    path = f"/api/v1/enterprises/{eid}/members/{member['user_id']}/permissions"
    params = {"user_id": member["user_id"], "enterprise_id": eid, "system": system}
    staleness, answered, polls = [], [], []
    for t in range(trials):
        want = t % 2 == 0  # grant, revoke, grant, ...
        client, poller = clients[t % 2], pollers[(t + 1) % 2]
        status, body = poller.call("GET", "/api/v1/authz/check", member["token"], params=params)
        if status != 200 or body["allowed"] is want:
            raise SystemExit(f"before the PUT the check said {status} {body}")
        must(client.call("PUT", path, admin["token"], {"systems": ["manifest", system] if want else ["manifest"]}),
             200, "PUT permissions")
        returned = time.perf_counter()
        n = 0
        while True:
            n += 1
            sent = time.perf_counter()
            status, body = poller.call("GET", "/api/v1/authz/check", member["token"], params=params)
            if status == 200 and body["allowed"] is want:
                break
            if time.perf_counter() - returned > 5:
                raise SystemExit("a grant stayed invisible for 5 s")
        staleness.append(sent - returned)
        answered.append(time.perf_counter() - returned)
        polls.append(n)
    return summary(staleness, 1.0), summary(answered, 1.0), polls


# -- the run --------------------------------------------------------------------------------------
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each closed-loop round")
    parser.add_argument("--rounds", type=int, default=4, help="echo/check rounds, interleaved")
    parser.add_argument("--rpc-concurrency", type=int, default=10)
    parser.add_argument("--http-concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=300.0, help="open-loop HTTP checks per second")
    parser.add_argument("--paced-seconds", type=float, default=10.0)
    parser.add_argument("--trials", type=int, default=50, help="grant-to-visible trials")
    parser.add_argument("--members", type=int, default=4)
    parser.add_argument("--profile", metavar="DIR", help="py-spy the gateway and authz during the HTTP closed loop")
    args = parser.parse_args(argv)

    from deploy.launch import Platform

    var = tempfile.mkdtemp(prefix="eport-bench-authz-")
    broker = Vhost(os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"))
    amqp_uri, vhost = broker.__enter__(), broker.name
    port, port_2, baseline_port = free_port(), free_port(), free_port()
    env = {"AMQP_URI": amqp_uri, "EPORT_VAR": var, "SMS_PROVIDER": "outbox",
           "SMS_OUTBOX": os.path.join(var, "sms-outbox.jsonl"), "GATEWAY_PORT": str(port),
           "GATEWAY_HOST": "127.0.0.1", "LOG_LEVEL": "WARNING", "EPORT_ENV": "development", **capacity_env()}
    os.environ.update(env)  # this process reads the SMS outbox and the same secrets
    platform = Platform(env=env, only=SERVICES, log_dir=os.path.join(var, "logs"), quiet=True,
                        instances={"gateway": 3},
                        instance_env={"gateway#2": {"GATEWAY_PORT": str(port_2)},
                                      "gateway#3": {"GATEWAY_PORT": str(baseline_port),
                                                    "GATEWAY_CHECK_ANSWER_SECONDS": "0"}})
    missing = set(SERVICES) - set(platform.services)
    if missing:
        raise SystemExit(f"services not available yet: {sorted(missing)}")
    echo = None
    try:
        print(f"[bench] starting {', '.join(SERVICES)} and the echo service (vhost {vhost or 'shared'}, var {var}); "
              f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
        platform.start(timeout=120)
        nameko = Path(sys.executable).with_name("nameko")
        echo = subprocess.Popen([str(nameko), "run", "--config", str(ROOT / "deploy" / "config.yaml"),
                                 "bench.authz:EchoService"], cwd=ROOT, env=dict(os.environ, **env),
                                stdout=open(os.path.join(var, "logs", "echo.log"), "ab"), stderr=subprocess.STDOUT)
        client = Client(port)
        eid, admin, members = build_enterprise(client, args.members)
        wait_echo(amqp_uri)
        # The client freezes its objects too, as every service does (services/common/heap.py): its own full
        # collections would otherwise count in the latencies it measures.
        gc.collect()
        gc.freeze()
        procs = dict(platform.procs, bench_echo=echo)
        ports = {"gateway": port, "gateway#2": port_2, "gateway#3": baseline_port}
        return 0 if report(args, ports, amqp_uri, eid, admin, members, procs) else 1
    finally:
        if echo is not None:
            echo.terminate()
            echo.wait(15)
        platform.stop()
        broker.__exit__(None, None, None)
        shutil.rmtree(var, ignore_errors=True)


def wait_echo(amqp_uri, timeout=60):
    from nameko.exceptions import UnknownService
    from nameko.standalone.rpc import ClusterRpcProxy
    deadline = time.monotonic() + timeout
    while True:
        try:
            with ClusterRpcProxy({"AMQP_URI": amqp_uri, "serializer": "json"}, timeout=2) as rpc_:
                if rpc_.bench_echo.ping() == "pong":
                    return
        except (UnknownService, Exception):
            if time.monotonic() > deadline:
                raise SystemExit("the echo service did not start") from None
            time.sleep(0.3)


def cpu_seconds(procs):
    """user+system CPU of each process so far (Linux /proc; empty elsewhere)."""
    out = {}
    for name, proc in procs.items():
        try:
            with open(f"/proc/{proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[name] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            pass
    return out


def own_cpu_seconds():
    import resource
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# Where a check's time goes (--profile): the first part any of whose frames is on a sample's stack takes it.
PROFILE_PARTS = [
    ("token verification (gateway/sessions.py)", ("gateway/sessions.py", "contracts/tokens.py")),
    ("JSON encode/decode", ("json/", "kombu/serialization.py")),
    ("RPC publish (nameko proxy, producer pool, send)", ("nameko/amqp/publish.py", "_call (nameko/rpc.py",
                                                         "kombu/pools.py", "UnconfirmedResponder")),
    ("RPC consume (requests and replies, acks)", ("services/common/consuming.py", "nameko/messaging.py",
                                                  "drain_events", "handle_message")),
    ("authz's handler (services/authz)", ("services/authz/",)),
    ("WSGI, routing, query schema (eventlet.wsgi, werkzeug, gateway)", ("eventlet/wsgi.py", "werkzeug/",
                                                                        "marshmallow/", "gateway/", "nameko/web/")),
    ("nameko worker set-up and teardown", ("nameko/containers.py", "nameko/")),
    ("eventlet hub and green threads", ("eventlet/",)),
]


def http_closed_measured(args, port, http_request, procs, label, profile=True):
    """The HTTP closed loop, with each process's CPU per check (and py-spy's profile with --profile)."""
    from contextlib import nullcontext

    from bench.profiling import Sampled
    sampled = Sampled({n: procs[n].pid for n in ("gateway", "authz")}, args.profile) \
        if args.profile and profile else None
    before, own_before = cpu_seconds(procs), own_cpu_seconds()
    with sampled or nullcontext():
        http_closed, errors_closed = http_closed_loop(port, http_request, args.http_concurrency, args.seconds)
    spent = {name: cpu_seconds(procs).get(name, 0) - t for name, t in before.items()}
    spent["bench client"] = own_cpu_seconds() - own_before  # the load itself: HTTP requests sent and read
    http_closed["cpu"] = {name: 1000 * t / max(http_closed["n"], 1) for name, t in spent.items()}
    print(fmt(f"HTTP check, {label}", http_closed), f"errors={len(errors_closed)}", flush=True)
    if spent:
        per_request = "  ".join(f"{name} {1000 * t / max(http_closed['n'], 1):.2f}"
                                for name, t in spent.items() if t > 0)
        print(f"  CPU ms per HTTP check, by process: {per_request}", flush=True)
    if sampled is not None:
        print(f"  where the busy time went (py-spy, stacks in {args.profile}):", flush=True)
        print(sampled.report(PROFILE_PARTS, per_call=http_closed["n"]), flush=True)
    return http_closed, errors_closed


def report(args, ports, amqp_uri, eid, admin, members, procs):
    port, baseline_port = ports["gateway"], ports["gateway#3"]
    member = members[0]
    users = [admin] + members
    systems = ["manifest", "cargo_declaration", "bonded_logistics", "processing_trade"]

    def rpc_args(i):
        return users[i % len(users)]["user_id"], eid, systems[i % len(systems)]

    def http_request(i):  # each member checks themself: the common case of a business system asking
        who = users[i % len(users)]
        return "/api/v1/authz/check", who["token"], {"user_id": who["user_id"], "enterprise_id": eid,
                                                      "system": systems[i % len(systems)]}

    print("\n[bench] one call at a time (what each hop costs alone)", flush=True)
    for name, stats in breakdown(port, amqp_uri, eid, member):
        print(fmt(name, stats), flush=True)

    print(f"\n[bench] RPC checks, closed loop, {args.rpc_concurrency} green threads x own ClusterRpcProxy, "
          f"{args.rounds} interleaved rounds of {args.seconds:g} s", flush=True)
    echo_runs, check_runs, cpu_per_call = [], [], {"bench_echo": [], "authz": []}
    for r in range(args.rounds):
        for service, runs, label in (("bench_echo", echo_runs, "echo (bare Nameko RPC)"),
                                     ("authz", check_runs, "authz.check")):
            before = cpu_seconds(procs).get(service)
            runs.append(rpc_closed_loop(amqp_uri, service, rpc_args, args.rpc_concurrency, args.seconds))
            after = cpu_seconds(procs).get(service)
            extra = ""
            if before is not None and after is not None:
                # includes the warm-up calls of rpc_closed_loop: 20 per green thread
                calls = runs[-1]["n"] + 20 * args.rpc_concurrency
                cpu_per_call[service].append(1000 * (after - before) / calls)
                extra = f"   server CPU {cpu_per_call[service][-1]:.2f} ms/call"
            print(fmt(f"{label} round {r + 1}", runs[-1]) + extra, flush=True)
    echo_rate = sum(s["per_s"] for s in echo_runs) / len(echo_runs)
    check_rate = sum(s["per_s"] for s in check_runs) / len(check_runs)
    # each check round against the echo round just before it: the machine's load drifts between rounds
    pair_ratios = sorted(c["per_s"] / e["per_s"] for e, c in zip(echo_runs, check_runs, strict=True))
    rpc_ratio = pair_ratios[len(pair_ratios) // 2] if len(pair_ratios) % 2 else \
        (pair_ratios[len(pair_ratios) // 2 - 1] + pair_ratios[len(pair_ratios) // 2]) / 2
    print(f"  check/echo per round: {', '.join(f'{r:.2f}' for r in pair_ratios)} (median {rpc_ratio:.2f}; "
          f"of the means {check_rate / echo_rate:.2f})", flush=True)

    print(f"\n[bench] HTTP GET /api/v1/authz/check, closed loop, {args.http_concurrency} connections, "
          f"{args.seconds:g} s (the gateway verifies the token itself, then authz.check_as, or its copy)",
          flush=True)
    baseline, _ = http_closed_measured(args, baseline_port, http_request, procs, "asking authz every time",
                                       profile=False)
    http_closed, errors_closed = http_closed_measured(args, port, http_request, procs, "answers kept")

    print(f"\n[bench] HTTP check, open loop for {args.paced_seconds:g} s each "
          "(latency from each request's scheduled start)", flush=True)
    baseline_paced, _ = http_open_loop(baseline_port, http_request, args.rate, args.paced_seconds)
    print(fmt(f"asking authz every time @ {args.rate:g}/s", baseline_paced), flush=True)
    for rate in (args.rate / 3, args.rate):  # the lower rate shows the latency below saturation
        http_paced, errors_paced = http_open_loop(port, http_request, rate, args.paced_seconds)
        print(fmt(f"answers kept @ {rate:g}/s", http_paced), f"errors={len(errors_paced)}", flush=True)

    print(f"\n[bench] grant/revoke through one gateway -> visible to the HTTP check through another, "
          f"{args.trials} trials", flush=True)
    visible, answered, polls = grant_visible_latency([port, ports["gateway#2"]], eid, admin, member, args.trials)
    print(f"  PUT returned -> first check sent that shows it   p50 {visible['p50']:6.2f} ms   "
          f"p99 {visible['p99']:6.2f} ms   max {visible['max']:6.2f} ms", flush=True)
    print(f"  PUT returned -> that check answered             p50 {answered['p50']:6.2f} ms   "
          f"p99 {answered['p99']:6.2f} ms   max {answered['max']:6.2f} ms", flush=True)
    print(f"  the first check after the PUT already showed it in {polls.count(1)}/{len(polls)} trials", flush=True)

    fresh = polls.count(1)
    results = [
        ("RPC check throughput / echo (median)", f"{rpc_ratio:.2f}", ">= 0.80", rpc_ratio >= 0.80),
        (f"HTTP checks closed loop ({args.http_concurrency} conns)", f"{http_closed['per_s']:.0f}/s", ">= 1000/s",
         http_closed["per_s"] >= 1000 and not errors_closed),
        (f"HTTP check p99 at {args.rate:g}/s (open loop)", f"{http_paced['p99']:.2f} ms", "<= 10 ms",
         http_paced["p99"] <= 10 and not errors_paced),
        ("grant/revoke shown by the very next check", f"{fresh}/{len(polls)}", "all", fresh == len(polls)),
        ("grant visible to checks p99 (staleness)", f"{visible['p99']:.2f} ms", "<= 100 ms", visible["p99"] <= 100),
        ("  incl. the check's own answer, p99", f"{answered['p99']:.2f} ms", "<= 100 ms", answered["p99"] <= 100),
    ]
    if cpu_per_call["authz"] and cpu_per_call["bench_echo"]:
        echo_cpu = sum(cpu_per_call["bench_echo"]) / len(cpu_per_call["bench_echo"])
        check_cpu = sum(cpu_per_call["authz"]) / len(cpu_per_call["authz"])
        print(f"\n  server CPU per call: echo {echo_cpu:.2f} ms, authz.check {check_cpu:.2f} ms "
              f"(ratio {echo_cpu / check_cpu:.2f}: the throughput ratio a saturated server would reach)")
    print("\n[bench] summary" + (f"  (load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)"
                                   if hasattr(os, "getloadavg") else ""))
    print(f"  echo {echo_rate:.0f}/s   authz.check {check_rate:.0f}/s   HTTP check (closed, "
          f"{args.http_concurrency} conns) {http_closed['per_s']:.0f}/s = {http_closed['per_s'] / echo_rate:.2f}x "
          "the echo's RPC rate in this run")
    for name, run in (("asking authz every time (baseline)", baseline), ("answers kept", http_closed)):
        cpu = run["cpu"]
        print(f"  HTTP check, {name:<34} {run['per_s']:6.0f}/s   p99 at {args.rate:g}/s "
              f"{(baseline_paced if run is baseline else http_paced)['p99']:8.2f} ms   CPU ms per check: "
              f"gateway {cpu.get('gateway#3' if run is baseline else 'gateway', 0):.2f}  "
              f"authz {cpu.get('authz', 0):.2f}  bench client {cpu.get('bench client', 0):.2f}")
    # What the CPU alone allows, whatever else runs on the machine: the gateway is one thread (an
    # eventlet process), and every process of a check together shares the cores (RabbitMQ's not counted).
    cpu = http_closed["cpu"]
    together = sum(t for name, t in cpu.items() if name != "gateway#3")
    print(f"  CPU-bound ceiling of the answers-keeping gateway (estimate, from its CPU per check): "
          f"{1000 / max(cpu.get('gateway', 0), 1e-9):.0f}/s for its one thread, "
          f"{1000 * (os.cpu_count() or 1) / max(together, 1e-9):.0f}/s for all its processes on "
          f"{os.cpu_count()} idle cores")
    for name, value, target, passed in results:
        print(f"  {name:<42} {value:>10}   target {target:<9} {'PASS' if passed else 'FAIL'}")
    return all(r[3] for r in results)


if __name__ == "__main__":
    sys.exit(main())

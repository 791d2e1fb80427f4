"""Single sign-on: full authorization code flows per second (without the browser) and the token
endpoint's p50/p99, against password logins measured in the same run.

    python bench/sso.py                        # what `make bench` runs
    python bench/sso.py --seconds 20 --concurrency 4

Starts the platform (identity, notify, enterprise, card, authz, sso, gateway) on a free loopback port
with a temporary var/ and RabbitMQ vhost; builds an enterprise whose certified administrator grants
`manifest` to --members members (bench/authz.py's set-up); registers a client for `manifest` with
`eport clients add`. Then, in turns of --seconds each, closed loops of --concurrency threads of:
  - password logins (POST /api/v1/sessions), the yardstick;
  - code flows as a relying party and the console drive them (tests/e2e/sso_people.py's way): POST
    /oauth2/session from the member's identity session -> GET /oauth2/authorize (PKCE S256, the
    provider's cookie) -> 302 with the code -> POST /oauth2/token (client_secret_basic, code_verifier).
Prints flows/s, logins/s and their ratio; p50/p99 of the token endpoint, of a whole flow and of a login.
Every loop is bounded by time; it only talks to 127.0.0.1.
"""
import argparse
import base64
import hashlib
import http.client
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import warnings  # noqa: E402

warnings.simplefilter("ignore")

from bench.authz import PASSWORD, build_enterprise  # noqa: E402
from bench.broker import Vhost  # noqa: E402
from bench.http_client import KeepAlive  # noqa: E402
from bench.login import cpu_seconds  # noqa: E402
from bench.stats import capacity_env, free_port, percentile  # noqa: E402

SERVICES = ["identity", "notify", "enterprise", "card", "authz", "sso", "gateway"]
REDIRECT = "https://bench-rp.example/callback"
COOKIE = "__Host-eport_sso"


class Raw:
    """One keep-alive connection with the headers of the answer (the flows need Set-Cookie and Location)."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method, path, headers=None, body=None):
        self.conn.request(method, path, body=body, headers=headers or {})
        resp = self.conn.getresponse()
        raw = resp.read()
        if resp.will_close:
            self.conn.close()
        return resp.status, dict(resp.getheaders()), raw


def pkce():
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def code_flow(http, client, member):
    """One full flow; (seconds of the flow, seconds of its token request)."""
    started = time.perf_counter()
    status, headers, body = http.call("POST", "/oauth2/session", {"Authorization": f"Bearer {member['token']}"})
    assert status == 204, body
    cookie = headers["Set-Cookie"].split(";")[0]
    verifier, challenge = pkce()
    query = urlencode({"response_type": "code", "client_id": client["client_id"], "redirect_uri": REDIRECT,
                       "scope": "openid profile", "state": secrets.token_urlsafe(8), "nonce": "n",
                       "code_challenge": challenge, "code_challenge_method": "S256"})
    status, headers, body = http.call("GET", f"/oauth2/authorize?{query}", {"Cookie": cookie})
    assert status == 302, body
    code = parse_qs(urlsplit(headers["Location"]).query)["code"][0]
    basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
    form = urlencode({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                      "code_verifier": verifier})
    asked = time.perf_counter()
    status, _, body = http.call("POST", "/oauth2/token", {"Authorization": f"Basic {basic}",
                                                         "Content-Type": "application/x-www-form-urlencoded"}, form)
    assert status == 200 and "id_token" in json.loads(body), body
    done = time.perf_counter()
    return done - started, done - asked


def password_login(http, member):
    started = time.perf_counter()
    status, body = http.call("POST", "/api/v1/sessions", body={"method": "password", "account": member["mobile"],
                                                                "password": PASSWORD})
    assert status == 201, body
    return time.perf_counter() - started


def closed_loop(connect, step, concurrency, seconds):
    """`step(connection, i)` repeatedly in `concurrency` threads for `seconds`; (results, elapsed)."""
    results, lock = [], threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker(k):
        http, mine, i = connect(), [], 0
        while time.perf_counter() < deadline:
            mine.append(step(http, k + i * concurrency))
            i += 1
        with lock:
            results.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, time.perf_counter() - started


def ms(values, p):
    return percentile(values, p) * 1000


def measure(args, platform, client, members):
    """Turns of logins and flows, interleaved so that the machine's other load falls on both alike; each
    kind's results, seconds and CPU seconds used by the platform's processes."""
    port, pick = int(platform.env["GATEWAY_PORT"]), lambda i: members[i % len(members)]  # noqa: E731
    kinds = {"logins": (lambda: KeepAlive(port, timeout=60), lambda h, i: password_login(h, pick(i))),
             "flows": (lambda: Raw(port), lambda h, i: code_flow(h, client, pick(i)))}
    got = {kind: [[], 0.0, 0.0] for kind in kinds}
    for _ in range(args.rounds):
        for kind, (connect, step) in kinds.items():
            before = cpu_seconds(platform, None)  # the platform's processes: the broker serves others too
            results, took = closed_loop(connect, step, args.concurrency, args.seconds)
            after = cpu_seconds(platform, None)
            used = sum(after[n] - before[n] for n in after if n in before and n != "bench client")
            got[kind][0] += results
            got[kind][1] += took
            got[kind][2] += used
    return got


def report(got, concurrency):
    (logins, login_time, login_cpu), (flows, flow_time, flow_cpu) = got["logins"], got["flows"]
    login_rate, flow_rate = len(logins) / login_time, len(flows) / flow_time
    whole, token = [f for f, _ in flows], [t for _, t in flows]
    print(f"password logins, {concurrency} threads: {len(logins)} in {login_time:.1f}s = {login_rate:.1f}/s; "
          f"p50 {ms(logins, 50):.0f} ms, p99 {ms(logins, 99):.0f} ms")
    print(f"code flows (session -> authorize -> token), {concurrency} threads: {len(flows)} in {flow_time:.1f}s "
          f"= {flow_rate:.1f}/s; p50 {ms(whole, 50):.0f} ms, p99 {ms(whole, 99):.0f} ms")
    print(f"token endpoint (authorization_code): p50 {ms(token, 50):.1f} ms, p99 {ms(token, 99):.1f} ms, "
          f"mean {statistics.mean(token) * 1000:.1f} ms")
    per_login, per_flow = login_cpu / len(logins) * 1000, flow_cpu / len(flows) * 1000
    print(f"CPU of the platform's processes: {per_login:.1f} ms per login, {per_flow:.1f} ms per code flow "
          f"(= {1000 / per_login:.1f} logins, {1000 / per_flow:.1f} flows per CPU-second: what one core of its own "
          f"would do, whatever else runs on the machine)")
    print(f"ratios: code flows / password logins = {flow_rate / login_rate:.2f} (per CPU-second "
          f"{per_login / per_flow:.2f}); token p50 / login p50 = {percentile(token, 50) / percentile(logins, 50):.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each turn")
    parser.add_argument("--rounds", type=int, default=2, help="turns of logins and of flows, interleaved")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--members", type=int, default=4)
    args = parser.parse_args(argv)

    from deploy.launch import Platform
    from tests.eport_cli import eport, json_lines

    var = tempfile.mkdtemp(prefix="eport-bench-sso-")
    with Vhost(os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")) as amqp_uri:
        port = free_port()
        env = {"AMQP_URI": amqp_uri, "EPORT_VAR": var, "SMS_PROVIDER": "outbox",
               "SMS_OUTBOX": os.path.join(var, "sms-outbox.jsonl"), "GATEWAY_PORT": str(port),
               "GATEWAY_HOST": "127.0.0.1", "EPORT_ISSUER": f"http://127.0.0.1:{port}", "LOG_LEVEL": "WARNING",
               "EPORT_ENV": "development", **capacity_env()}
        os.environ.update(env)  # this process reads the SMS outbox, eport the same broker and secrets
        platform = Platform(env=env, only=SERVICES, log_dir=os.path.join(var, "logs"), quiet=True)
        print(f"[bench] {', '.join(platform.services)} on {platform.base_url}; load average "
              f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
        try:
            platform.start(timeout=120)
            _, _, members = build_enterprise(KeepAlive(port), args.members)
            client = json_lines(eport("clients", "add", "--name", "基准系统", "--system", "manifest",
                                      "--redirect-uri", REDIRECT, "--json"))[0]
            code_flow(Raw(port), client, members[0])  # warm-up: every code path once
            report(measure(args, platform, client, members), args.concurrency)
        finally:
            platform.stop()
            shutil.rmtree(var, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

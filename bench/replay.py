"""How fast `eport rebuild audit-log` rebuilds the audit log, beside the raw scan of the same
notification log, in one run; and its peak memory, for two sizes of history.

    .venv/bin/python bench/replay.py [--events 200000] [--small 50000] [--instances 2] [--repeat 3] [--profile DIR]

Two upstream services of their own (temporary SQLite stores under EPORT_VAR, a RabbitMQ vhost of
their own) hold `--small` and `--events` events, which their relay publishes (keeping them in the
service's published log, services/common/published.py, as the platform does when they happen);
each is served by nameko containers in processes of their own with the `ops_events` RPC every
service has: one instance, then `--instances`, as the platform runs several of a service (the
broker shares the rebuild's windows among them). A last run empties the published log first:
events stored before it existed are mapped, then kept. The rebuild (services/audit/rebuild.py,
the audit service's own code path: windows of 1,000 positions asked three ahead over RPC, one
transaction per page into a new audit log) runs in a process of its own per run, so its peak RSS
is its own; each kind of run `--repeat` times, each beside a raw scan made just before it, and the
median of their ratios said. The baselines: the raw scan of the notification log (select_notifications page by
page, what any rebuild must read), and the scan with every notification decrypted and mapped to
its integration event in one process (what the upstream does for an event its published log does
not hold). Beside the wall clock, each process's CPU per event (the raw scan's too): on a busy
machine it holds where the wall clock does not. `--profile DIR`: py-spy samples the rebuild and the
upstream instances of the first two runs and says where their time went (bench/profiling.py).
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import warnings  # noqa: E402

warnings.simplefilter("ignore")
import eventlet  # noqa: E402
import eventlet.tpool  # noqa: E402

eventlet.monkey_patch()

from bench.broker import Vhost  # noqa: E402
from bench import pii  # noqa: E402
from bench.pii import integration_for, said  # noqa: E402

SAVE_BATCH = 500
SCAN_PAGE = 1000
PERSONS = 1000
PEOPLE = [f"00000000-0000-4000-8000-{n:012d}" for n in range(PERSONS)]


def app_class(service_name):
    from services.common.application import ServiceApplication

    return type(f"Upstream_{service_name.replace('-', '_')}", (ServiceApplication,), {"service_name": service_name})


def service_class(service_name):
    from services.common.dependency import EventSourced
    from services.common.operations import Operated

    return type(f"Service_{service_name.replace('-', '_')}", (Operated,),
                {"name": service_name, "app": EventSourced(app_class(service_name), integration_for(service_name))})


def fill(service_name, events, amqp_uri):
    """`events` events in the service's store, then published by its relay (which keeps them in
    the service's published log), as the platform would have published them when they happened."""
    from services.common.relay import AmqpPublisher, NotificationRelay
    from services.common.bootstrap import published_log, relay_positions

    to_integration = integration_for(service_name)
    app = app_class(service_name)()
    started = time.perf_counter()
    for start in range(0, events, SAVE_BATCH):  # each names one of PERSONS people: sealed with their keys
        app.save(*said(PEOPLE, start, min(start + SAVE_BATCH, events)))
    stored = time.perf_counter()
    relay = NotificationRelay(app, to_integration, AmqpPublisher(amqp_uri, service_name),
                              relay_positions(service_name), name=f"{service_name}->amqp", batch_size=SAVE_BATCH,
                              published=published_log(service_name, app, to_integration))
    while relay.run_once():
        pass
    relay.publisher.close()
    relay.positions.close()
    relay.published.close()
    print(f"[bench] {service_name}: {events} events stored in {stored - started:.1f}s, "
          f"published by the relay in {time.perf_counter() - stored:.1f}s")
    return app


def forget_published(service_name):
    """The published log emptied: the service's events as if stored before it existed."""
    from services.common.settings import var_dir

    for path in var_dir().glob(f"{service_name}-published.db*"):
        path.unlink()


def audit_keys(people):
    """audit's keys of the bench's people, made as the live audit log made them when it recorded
    their events as they happened: a rebuild records the same events again, with the same keys
    (made here, each of the 1,000 people's first one cost the x1 run a synced file: a third of its time)."""
    from services.common.bootstrap import person_keys

    keys = person_keys("audit")
    for person in people:
        keys.key_for(person)


def scan(app, decode, to_integration=None):
    """(events/s, CPU seconds per event) of one scan of the notification log."""
    started, cpu, count, position = time.perf_counter(), time.process_time(), 0, 0
    while True:
        page = app.recorder.select_notifications(start=position, limit=SCAN_PAGE, inclusive_of_start=False)
        if not page:
            break
        if decode:
            for n in page:
                for _ in to_integration(app.mapper.to_domain_event(n)):
                    count += 1
        else:
            count += len(page)
        position = page[-1].id
    return count / (time.perf_counter() - started), (time.process_time() - cpu) / count


def child(service_name, amqp_uri, out_dir, label):
    """One rebuild from one upstream, in this process; prints its figures as JSON."""
    from services.audit.rebuild import AuditRebuild
    from services.audit.store import AuditStore
    from services.common.heap import freeze_once
    from services.common.operations import upstream_fetcher

    integration_for(service_name)  # its event type's personal field: sealed per person in the audit log too
    store = AuditStore(Path(out_dir) / f"audit-{label}.db")
    fetch = upstream_fetcher({"AMQP_URI": amqp_uri}, "audit")
    freeze_once()  # as the audit service's process is by the time an operator asks (services/common/heap.py)
    started = cpu_seconds()
    result = AuditRebuild(store, fetch, sources=(service_name,)).run()
    spent = cpu_seconds() - started
    fetch.close()
    assert result["state"] == "done", result
    assert store.count() == result["applied"], (store.count(), result)
    print(json.dumps({"applied": result["applied"], "seconds": result["seconds"], "cpu_seconds": spent,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    return 0


def serve(service_name, amqp_uri):
    """One instance of the upstream service (its `ops_events`), until its stdin closes."""
    from nameko.containers import ServiceContainer

    container = ServiceContainer(service_class(service_name), {"AMQP_URI": amqp_uri, "max_workers": 4})
    container.start()
    started = cpu_seconds()
    print("ready", flush=True)
    eventlet.tpool.execute(sys.stdin.read)
    print(json.dumps({"cpu_seconds": cpu_seconds() - started}), flush=True)
    container.stop()
    return 0


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def upstream(service_name, amqp_uri, instances):
    """`instances` processes serving the store, as the platform runs several of a service: the
    rebuild's windows are shared among them by the broker. Yields (their CPU seconds, filled once
    they have stopped; their pids)."""
    procs = [subprocess.Popen([sys.executable, __file__, "--serve", service_name, "--amqp-uri", amqp_uri],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=os.environ)
             for _ in range(instances)]
    cpu = []  # each instance's CPU seconds, once it has stopped
    try:
        for proc in procs:
            if proc.stdout.readline().strip() != "ready":
                raise SystemExit(f"an instance of {service_name} did not start")
        yield cpu, [proc.pid for proc in procs]
    finally:
        for proc in procs:
            proc.stdin.close()
        for proc in procs:
            out = proc.stdout.readline()
            proc.wait(timeout=60)
            cpu.append(json.loads(out.strip().splitlines()[-1])["cpu_seconds"] if out.strip() else 0.0)


def rebuild_in_child(service_name, amqp_uri, out_dir, instances, label="", profile=None):
    """The figures of one rebuild in a process of its own; with `profile` (a folder), py-spy's
    samples of the rebuild and of the upstream instances meanwhile, and where their time went."""
    from contextlib import nullcontext

    from bench.profiling import Sampled

    label = f"{service_name}-{instances}{label}"
    with upstream(service_name, amqp_uri, instances) as (upstream_cpu, pids):
        proc = subprocess.Popen([sys.executable, __file__, "--child", service_name, "--amqp-uri", amqp_uri,
                                 "--out", out_dir, "--label", label],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ)
        named = {"rebuild": proc.pid, **{f"upstream{i + 1}": pid for i, pid in enumerate(pids)}}
        sampled = Sampled(named, Path(profile) / label) if profile else None
        with sampled or nullcontext():
            out, err = proc.communicate(timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"rebuild of {service_name} failed:\n{err[-3000:]}")
    if sampled is not None:
        print(f"  where the busy time went, {label} (py-spy, stacks in {Path(profile) / label}):")
        print(sampled.report(PROFILE_PARTS), flush=True)
    run = json.loads(out.strip().splitlines()[-1])
    run["upstream_cpu_seconds"] = sum(upstream_cpu)
    return run


# Where a rebuild's time goes (--profile): the first part any of whose frames is on a sample's stack takes it.
PROFILE_PARTS = [
    ("process start-up: imports (not timed)", ("_find_and_load", "monkey_patch")),
    ("signature check: Ed25519 verify (proven, contracts/signatures.py)", ("verify (cryptography",
                                                                          "verify (contracts/signatures.py",
                                                                          "verify_window (")),
    ("audit row: per-person field seal (FieldSeal)", ("seal (services/common/sealing.py",)),
    ("audit row: store cipher, payload JSON (PayloadCipher.seal)", ("seal (services/audit/store.py",)),
    ("window parse: JSON (fastjson.loads)", ("loads (services/common/fastjson.py",)),
    ("audit log: its key and indexes, built at the end (finish_bulk)", ("finish_bulk",)),
    ("audit rows: SQLite insert (executemany, commit)", ("_run_many", "_run (services/audit")),
    ("audit rows: the rest of record_many", ("record_many",)),
    ("upstream: published log read (decrypt, open per person)", ("read (services/common/published.py",)),
    ("upstream: mapping stored events", ("_mapped", "to_domain_event")),
    ("upstream: the window's signature (Ed25519 sign)", ("sign_window (",)),
    ("upstream: the reply sent (send_response)", ("send_response (",)),
    ("RPC reply JSON decode/encode", ("json/", "kombu/serialization.py")),
    ("RPC transport (amqp, kombu, nameko)", ("amqp/", "kombu/", "nameko/")),
    ("eventlet hub and green threads", ("eventlet/",)),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--small", type=int, default=50_000)
    parser.add_argument("--instances", type=int, default=2, help="upstream instances of the second run")
    parser.add_argument("--pii-events", type=int, default=20_000, help="events of the sealing cost's stores")
    parser.add_argument("--profile", metavar="DIR", help="py-spy the rebuild and the upstream of each run")
    parser.add_argument("--repeat", type=int, default=3, help="rebuilds of each kind (x1, x2): their median is said")
    parser.add_argument("--child")
    parser.add_argument("--serve")
    parser.add_argument("--amqp-uri")
    parser.add_argument("--out")
    parser.add_argument("--label")
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.amqp_uri, args.out, args.label)
    if args.serve:
        return serve(args.serve, args.amqp_uri)
    os.environ.setdefault("EPORT_ENV", "development")
    var = tempfile.mkdtemp(prefix="eport-bench-replay-")
    os.environ["EPORT_VAR"] = var
    small, large = "benchreplay-small", "benchreplay-large"
    try:
        with Vhost(os.environ.get("AMQP_URI", "amqp://guest:guest@localhost:5672/")) as amqp_uri:
            apps = {name: fill(name, n, amqp_uri) for name, n in ((small, args.small), (large, args.events))}
            decoded, _ = scan(apps[large], decode=True, to_integration=integration_for(large))
            print(f"[bench] load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
            pii.report(pii.measure(args.pii_events, PERSONS, 3, label="replay"), args.pii_events, PERSONS)
            audit_keys(PEOPLE)
            runs = {n: [beside_a_raw_scan(apps[large], large, amqp_uri, var, n,
                                          profile=args.profile if i == 0 else None)
                        for i in range(args.repeat)] for n in (1, args.instances)}
            few = rebuild_in_child(small, amqp_uri, var, args.instances)
            forget_published(large)
            cold = beside_a_raw_scan(apps[large], large, amqp_uri, var, 1, label="cold")
            report(decoded, runs, few, cold, args.instances)
    finally:
        shutil.rmtree(var, ignore_errors=True)
    return 0


def beside_a_raw_scan(app, *rebuild, **options):
    """`rebuild_in_child(*rebuild, **options)` and the raw scan just before it: the machine's speed
    drifts between runs (the same scan went from 4.5 to 8.1 us of CPU an event within minutes), so
    each rebuild is read against the scan of its own minute."""
    raw, raw_cpu = scan(app, decode=False)
    run = rebuild_in_child(*rebuild, **options)
    return {**run, "raw": raw, "raw_cpu": raw_cpu, "rate": run["applied"] / run["seconds"]}


def report(decoded, runs, few, cold, instances):
    def ratio(run):
        return run["rate"] / run["raw"]

    for n, kind in runs.items():
        for i, run in enumerate(kind):
            print(f"  rebuild of the audit log, upstream x{n} #{i + 1}  {run['rate']:10.0f} events/s  "
                  f"({run['applied']} events in {run['seconds']:.1f}s) = {100 * ratio(run):.0f}% of the raw scan "
                  f"beside it ({run['raw']:.0f}/s, {1e6 * run['raw_cpu']:.1f} us CPU/event); CPU an event "
                  f"{1e6 * run['cpu_seconds'] / run['applied']:.0f} us in the rebuild, "
                  f"{1e6 * run['upstream_cpu_seconds'] / run['applied']:.0f} us in the upstream")
    first = runs[1][0]
    print(f"  scan, decrypt and map to envelopes          {decoded:10.0f} events/s  (one process)")
    print(f"  the same, events stored before the published log {cold['rate']:10.0f} events/s  "
          f"({cold['applied']} events in {cold['seconds']:.1f}s, mapped and kept) = {100 * ratio(cold):.0f}%")
    print(f"  peak RSS of the rebuild: {few['peak_rss_mib']:.0f} MiB for {few['applied']} events, "
          f"{runs[instances][0]['peak_rss_mib']:.0f} MiB for {first['applied']} events")
    by_kind = {n: statistics.median([ratio(run) for run in kind]) for n, kind in runs.items()}
    best = max(by_kind, key=by_kind.get)
    cpu = statistics.median([run["raw_cpu"] / (run["cpu_seconds"] / run["applied"])
                             for kind in runs.values() for run in kind])
    print(f"  by CPU (robust where the wall clock is not): the rebuild's CPU an event against the raw scan's, "
          f"median {100 * cpu:.0f}% (its upstream's apart, on another core)")
    print("[bench] summary: rebuild at " + ", ".join(
              f"{100 * r:.0f}% (x{n})" for n, r in by_kind.items()) +
          f" of the raw scan beside it, median of {len(runs[1])} each (target 25%: x{best} "
          f"{min(ratio(run) for run in runs[best]) * 100:.0f}-{max(ratio(run) for run in runs[best]) * 100:.0f}%; "
          f"every event names a person, its personal field sealed in the store, its published row and its audit "
          f"row with their key), {100 * first['rate'] / decoded:.0f}% of one process's scan+decode with one upstream "
          f"instance; peak RSS x{runs[instances][0]['peak_rss_mib'] / few['peak_rss_mib']:.2f} "
          f"for x{first['applied'] / few['applied']:.1f} the events")


if __name__ == "__main__":
    sys.exit(main())

"""What per-person sealing (services/common/sealing.py) costs per event, on save and on replay, beside the
same store without it, in one run.

    .venv/bin/python bench/pii.py [--events 20000] [--persons 1000] [--rounds 3]

Two SQLite stores in a temporary EPORT_VAR, each written by a `ServiceApplication` (store cipher and
compressor on, as the platform runs): one whose Mapper seals (per-person keys in EPORT_VAR/keys), one
whose Mapper has no key store (what every store was before). Each event names one of `--persons` people
and holds one personal field, as a login's `session_id` does (a registration holds three). Save: batches
of 500 events. Replay: every stored event read back and mapped to its domain event (decrypted,
decompressed, decoded, opened), page by page, as a rebuild or the relay does; once with the keys in the
process's cache, once with the cache emptied (each person's key unwrapped from the key store again).
Rounds alternate the two stores; the best round of each is reported, in CPU time of this process (a
busy machine stretches wall time, not the work done: sealing does no I/O once a person's key exists).
"""
import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import warnings  # noqa: E402

warnings.simplefilter("ignore")

from eventsourcing.domain import Aggregate, event  # noqa: E402
from marshmallow import Schema, fields  # noqa: E402

from contracts.envelope import make_envelope  # noqa: E402
from contracts.personal import PERSONAL  # noqa: E402
from services.common.sealing import OWNER, PersonalData  # noqa: E402
from tests.support import own_event_type  # noqa: E402

SAVE_BATCH = 500
SCAN_PAGE = 1000


class Said(PersonalData, Aggregate):
    """One event naming a person, with one personal field (`words`) and one that is not (`kind`)."""

    personal_events = {"Said": {"words": OWNER}}

    @event("Said")
    def __init__(self, user_id, words, kind):
        self.user_id, self.words, self.kind = user_id, words, kind


class SaidPayload(Schema):
    user_id = fields.String(required=True)
    words = fields.String(required=True)
    kind = fields.String(required=True)


def integration_for(source):
    """The mapping of `Said` to an event type of `source`'s own (a rebuild believes a service's events
    only), whose `words` are personal: its published rows are sealed with the person's key."""
    said_type = own_event_type(source, "Said", SaidPayload, "benchmark event naming a person")
    PERSONAL[(source, "Said")] = {"words": "user_id"}

    def to_integration(domain_event):
        yield make_envelope(said_type, aggregate_id=domain_event.originator_id,
                            aggregate_version=domain_event.originator_version, occurred_at=domain_event.timestamp,
                            payload={"user_id": domain_event.user_id, "words": domain_event.words,
                                     "kind": domain_event.kind})

    return to_integration


to_integration = integration_for("benchpii")


def said(people, start, stop):
    return [Said(people[i % len(people)], f"会话 {uuid.uuid4()}", "login") for i in range(start, stop)]


def stores(label):
    """(sealing application, application of before: no sealing) on stores of their own."""
    from services.common.application import ServiceApplication
    from services.common.correlation import CorrelatingMapper

    def mapper_of_before(app):  # the code path of before: eventsourcing's Mapper with the correlation id
        return app.factory.mapper(transcoder=app.construct_transcoder(), mapper_class=CorrelatingMapper)

    sealing = type("Sealing", (ServiceApplication,), {"service_name": f"benchpii-{label}-sealed"})()
    plain = type("Plain", (ServiceApplication,), {"service_name": f"benchpii-{label}-plain",
                                                  "construct_mapper": mapper_of_before})()
    return sealing, plain


def save(app, people, events):
    started = time.process_time()
    for start in range(0, events, SAVE_BATCH):
        app.save(*said(people, start, min(start + SAVE_BATCH, events)))
    return (time.process_time() - started) / events


def replay(app):
    """Seconds per event to read every stored event back as a domain event."""
    started, count, position = time.process_time(), 0, 0
    while True:
        page = app.recorder.select_notifications(start=position, limit=SCAN_PAGE, inclusive_of_start=False)
        if not page:
            break
        for notification in page:
            app.mapper.to_domain_event(notification)
        count += len(page)
        position = page[-1].id
    return (time.process_time() - started) / count


def measure(events=20_000, persons=1_000, rounds=3, label="run"):
    """{figure: seconds per event}, best of `rounds`, for the sealing and the plain store."""
    sealing, plain = stores(label)
    people = [str(uuid.uuid4()) for _ in range(persons)]
    best = {}

    def keep(name, value):
        best[name] = min(best.get(name, value), value)

    per_round = max(1, events // rounds)
    for _ in range(rounds):
        keep("save sealed", save(sealing, people, per_round))
        keep("save plain", save(plain, people, per_round))
    for _ in range(rounds):
        keep("replay sealed", replay(sealing))
        keep("replay plain", replay(plain))
        sealing.mapper.keys.forget()
        keep("replay sealed, keys not cached", replay(sealing))
    assert sealing.repository.get(sealing.recorder.select_notifications(start=1, limit=1)[0].originator_id).words
    best.update(measure_published(sealing, rounds))
    best.update(measure_audit(sealing, rounds))
    sealing.close()
    plain.close()
    return best


def measure_published(app, rounds=3):
    """{figure: seconds per event} of reading a published log of `app`'s events whole, its rows sealed
    per person, and the same without (no key store), in this process."""
    from services.common.published import PublishedLog, mark_of, stored_mark
    from services.common.relay import as_published
    from services.common.settings import var_dir

    last = app.recorder.max_notification_id()
    items = [dict(as_published(envelope, domain_event), position=n.id)
             for n in app.recorder.select_notifications(start=1, limit=last)
             for domain_event in [app.mapper.to_domain_event(n)] for envelope in to_integration(domain_event)]
    mark = mark_of(app.recorder.select_notifications(start=last, limit=1)[0])
    best = {}
    for label, keys in (("sealed", app.mapper.keys), ("plain", None)):
        log = PublishedLog(var_dir() / f"bench-{label}-published.db", app.mapper.cipher, f"bench {label}",
                           lambda position: stored_mark(app, position), keys=keys)
        log.put(0, last, items, mark)
        for _ in range(rounds):
            started, after = time.process_time(), 0
            while after < last:
                _, _, after = log.read(after, last, SCAN_PAGE)
            took = (time.process_time() - started) / len(items)
            best[f"published log read {label}"] = min(best.get(f"published log read {label}", took), took)
        log.close()
    return best


def measure_audit(app, rounds=3):
    """{figure: seconds per event} of the audit log's payloads (services/audit/store.py PayloadCipher):
    each sealed for the log, its personal field with its person's key of audit's key store inside the
    store cipher, and opened again; beside the same payloads of a kind with no personal field
    (store cipher only), in this process."""
    from services.audit.store import PayloadCipher
    from services.common.relay import as_published

    envelopes = [as_published(envelope, domain_event)
                 for n in app.recorder.select_notifications(start=1, limit=app.recorder.max_notification_id())
                 for domain_event in [app.mapper.to_domain_event(n)] for envelope in to_integration(domain_event)]
    cipher, best = PayloadCipher(), {}

    def keep(name, value):
        best[name] = min(best.get(name, value), value)

    for _ in range(rounds):
        for label, kind in (("sealed", ("benchpii", "Said")), ("plain", None)):
            started = time.process_time()
            stored = [cipher.seal(e["payload"], kind, e["event_id"]) for e in envelopes]
            keep(f"audit seal {label}", (time.process_time() - started) / len(envelopes))
            started = time.process_time()
            for text, e in zip(stored, envelopes, strict=True):
                cipher.open(text, e["event_id"])
            keep(f"audit open {label}", (time.process_time() - started) / len(envelopes))
    return best


def report(best, events, persons):
    us = {name: 1e6 * value for name, value in best.items()}
    print(f"  per-person sealing, {events} events of {persons} people, one personal field each "
          f"(CPU time, best of the rounds, same run):")
    for what in ("save", "replay"):
        sealed, plain = us[f"{what} sealed"], us[f"{what} plain"]
        print(f"  {what:<7} sealed {sealed:7.1f} us/event   plain {plain:7.1f} us/event   "
              f"sealing costs {sealed - plain:6.1f} us/event ({100 * (sealed - plain) / plain:+.0f}%)")
    cold = us["replay sealed, keys not cached"]
    print(f"  replay with the key cache emptied first: {cold:7.1f} us/event "
          f"({cold - us['replay plain']:.1f} us over plain: each person's key unwrapped once)")
    if "published log read sealed" in us:
        sealed, plain = us["published log read sealed"], us["published log read plain"]
        print(f"  a published log read whole: rows sealed per person {sealed:5.1f} us/event, "
              f"store cipher only {plain:5.1f} us/event ({sealed - plain:+.1f} us)")
    if "audit seal sealed" in us:
        for what, doing in (("seal", "recorded (a rebuild's write)"), ("open", "read back (a query)")):
            sealed, plain = us[f"audit {what} sealed"], us[f"audit {what} plain"]
            print(f"  an audit log payload {doing}: field sealed per person {sealed:5.1f} us/event, "
                  f"store cipher only {plain:5.1f} us/event ({sealed - plain:+.1f} us)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--persons", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("EPORT_ENV", "development")
    var = tempfile.mkdtemp(prefix="eport-bench-pii-")
    os.environ["EPORT_VAR"] = var
    try:
        print(f"[bench] load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        report(measure(args.events, args.persons, args.rounds), args.events, args.persons)
    finally:
        shutil.rmtree(var, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`eport` as an operator runs it: a subprocess against the launched platform and its broker."""
import json
import os
import uuid
from urllib.parse import urlparse
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest
from kombu import Connection, Exchange, Producer, Queue

from contracts.subscriptions import SUBSCRIPTIONS, exchange
from deploy.eport.broker import queue_depth
from deploy.launch import SERVICES
from services.common.deadletters import DEFAULT_EXCHANGE, REASON, dead_letter_queue_name
from tests.e2e.enterprise_people import PASSWORD, register, wait_for
from tests.eport_cli import eport, json_lines

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def broker(platform):
    """The platform's vhost as its administrator (to set up queues beside the platform)."""
    return platform.env["AMQP_URI"]


@pytest.fixture(scope="module")
def operator(platform):
    """The tool's own broker user where the platform runs with per-service users."""
    return (platform.broker_uris or {}).get("operator", platform.env["AMQP_URI"])


@pytest.fixture(scope="module")
def auditor(platform):
    """The auditors' broker user: reads the whole audit log, and nothing else."""
    return (platform.broker_uris or {}).get("auditor", platform.env["AMQP_URI"])


def platform_subscriptions():
    """The platform's own (other test modules add subscriptions of their stand-ins to the table)."""
    return [s for s in SUBSCRIPTIONS if s.consumer in SERVICES and s.source in SERVICES]


def run(uri, *args, **kw):
    return eport(*args, amqp_uri=uri, **kw)


def status(uri):
    return json.loads(run(uri, "status", "--json").stdout)


def caught_up(uri):
    """The status once identity's relay has published all it stored, else None."""
    body = status(uri)
    return body if next(s for s in body["stores"] if s["store"] == "identity")["lag"] == 0 else None


def parked_counts(broker):
    """Dead letters per platform queue, asked of the broker directly: the waits poll this, the
    tool's own listing is checked once (a subprocess per poll would be most of the test's time)."""
    with Connection(broker) as conn:
        return {s.queue_name: queue_depth(conn, dead_letter_queue_name(s.queue_name)) or 0
                for s in platform_subscriptions()}


def concurrently(*calls):
    """The results of independent `eport` runs, started together (each is mostly start-up)."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_status_shows_every_store_and_queue_and_the_relay_catching_up(api, operator):
    person = register(api)
    body = wait_for(lambda: caught_up(operator))
    stores = {(s["service"], s["store"]): s for s in body["stores"]}
    assert {("identity", "identity"), ("enterprise", "enterprise"), ("card", "card"), ("authz", "authz"),
            ("notify", "notify-inbox"), ("audit", "audit-log")} <= set(stores)
    assert stores[("identity", "identity")]["stored"] >= 3  # registration, password, login
    sms = stores[("notify", "sms")]  # notify's deliveries (services/notify/sms_delivery.py)
    assert sms["sms_sent"] >= 1 and sms["sms_parked"] == 0 and sms["stored"] == 0
    assert body["unavailable"] == []
    assert {q["queue"] for q in body["queues"]} == {s.queue_name for s in platform_subscriptions()}
    table = run(operator, "status").stdout
    assert "identity" in table and "audit.identity-events" in table and "dead letters" in table
    assert "SMS sent" in table and "parked 0 since start" in table
    events = json_lines(run(operator, "events", "identity", "--type", "UserRegistered", "--limit", "100000",
                            "--json"))
    assert person.user_id in {e["payload"]["user_id"] for e in events}
    assert all(e["event_type"] == "UserRegistered" and e["position"] > 0 for e in events)
    assert person.mobile not in json.dumps(events, ensure_ascii=False)
    page = json_lines(run(operator, "events", "identity", "--from", events[0]["position"], "--limit", 2, "--json"))
    assert len(page) == 2 and all(e["position"] > events[0]["position"] for e in page)


def test_replay_reaches_the_one_queue_and_not_a_second_bound_queue(api, broker, operator, auditor):
    register(api)
    ours, theirs = f"crm-{uuid.uuid4().hex[:6]}.identity", f"other-{uuid.uuid4().hex[:6]}.identity"
    history = json_lines(run(operator, "events", "identity", "--limit", "100000", "--json"))
    with Connection(broker) as conn:
        channel = conn.channel()
        for name in (ours, theirs):  # two subscribers of every identity event
            Queue(name, exchange=exchange("identity"), routing_key="#", auto_delete=False,
                  durable=False)(channel).declare()
        done = run(operator, "replay", "identity", "--to-queue", ours)
        assert f"replayed {len(history)} identity event(s)" in done.stdout
        got = []
        while (message := Queue(ours, channel=channel).get(no_ack=True)) is not None:
            got.append(message)
        assert Queue(theirs, channel=channel).get(no_ack=True) is None
        for name in (ours, theirs):
            channel.queue_delete(name)
    assert [m.properties["message_id"] for m in got] == [e["event_id"] for e in history]
    assert [json.loads(m.body)["event_id"] for m in got] == [e["event_id"] for e in history]
    assert "position" not in json.loads(got[0].body)
    assert json.loads(got[0].body)["signature"] == history[0]["signature"]  # the source's, as it published
    # the replay is in the audit trail: who (the tool's broker user), what, when; auditors read it
    recorded = [i["payload"] for i in json_lines(run(auditor, "audit", "--type", "OperatorActed", "--json"))]
    assert {"action": "replay", "target": ours, "details": {"service": "identity", "after": 0}} | {
        "operator": urlparse(operator).username or "guest"} in recorded
    if auditor != operator:  # with per-role broker users: an operator does not read the audit trail
        refused = run(operator, "audit", "--type", "OperatorActed", check=False)
        assert refused.returncode == 4 and "refused" in refused.stderr
    missing = run(operator, "replay", "identity", "--to-queue", "nosuch.queue", check=False)
    assert missing.returncode == 2 and "no queue 'nosuch.queue'" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_a_malformed_message_on_each_consumer_queue_is_parked_and_nothing_crashes(api, broker, operator, auditor):
    before = {r["queue"]: r["dead_letters"] for r in json_lines(run(operator, "dead-letters", "list", "--json"))}
    with Connection(broker) as conn:
        producer = Producer(conn.channel(), exchange=DEFAULT_EXCHANGE)
        for sub in platform_subscriptions():
            producer.publish(b"\xff not json", routing_key=sub.queue_name, content_type="application/json",
                             content_encoding="binary", message_id=f"bad-json-{sub.queue_name}")
            producer.publish({"hello": "world"}, routing_key=sub.queue_name, serializer="json",
                             message_id=f"no-envelope-{sub.queue_name}")

    expected = {s.queue_name: before.get(s.queue_name, 0) + 2 for s in platform_subscriptions()}
    wait_for(lambda: parked_counts(broker) == expected, timeout=30, interval=0.2)
    now = {r["queue"]: r["dead_letters"] for r in json_lines(run(operator, "dead-letters", "list", "--json"))}
    assert {q: now[q] for q in expected} == expected
    first = platform_subscriptions()[0].queue_name  # through the tool once; the others directly
    items = {i["message_id"]: i for i in json_lines(run(operator, "dead-letters", "list", first, "--json"))}
    assert "undecodable" in items[f"bad-json-{first}"]["reason"]
    assert "not an envelope" in items[f"no-envelope-{first}"]["reason"]
    # Replayed to the running consumer, they come back parked: still malformed, still not crashing it.
    assert "replayed 2 message(s)" in run(operator, "dead-letters", "replay", first).stdout
    with Connection(broker) as conn:  # parked again only after they went back through the consumer
        wait_for(lambda: queue_depth(conn, dead_letter_queue_name(first)) == expected[first]
                 and queue_depth(conn, first) == 0, timeout=20, interval=0.2)
    with Connection(broker) as conn:
        channel = conn.channel()
        for sub in platform_subscriptions():
            dead = Queue(dead_letter_queue_name(sub.queue_name), channel=channel, no_declare=True)
            reasons = {}
            while (message := dead.get(no_ack=True)) is not None:
                reasons[message.properties["message_id"]] = message.headers[REASON]
            assert "undecodable" in reasons[f"bad-json-{sub.queue_name}"]
            assert "not an envelope" in reasons[f"no-envelope-{sub.queue_name}"]
    # Every consumer still runs: a new person's registration reaches the audit log, all answer.
    person = register(api)
    wait_for(lambda: json_lines(run(auditor, "audit", "--user", person.user_id, "--json")), timeout=20)
    assert status(operator)["unavailable"] == []


def test_audit_finds_what_one_request_caused_by_its_correlation_id(api, auditor):
    person = register(api)
    request_id = f"eport-{uuid.uuid4()}"
    r = api.post("/api/v1/sessions", json={"method": "password", "account": person.mobile, "password": PASSWORD},
                 headers={"X-Request-ID": request_id})
    assert r.status_code == 201, r.text
    found = wait_for(lambda: json_lines(run(auditor, "audit", "--correlation", request_id, "--json")), timeout=20)
    assert [(i["event_type"], i["subject"]) for i in found] == [("UserLoggedIn", person.user_id)]


def test_mistakes_and_outages_exit_with_a_line_and_a_code_not_a_traceback(operator, auditor):
    mistakes = ((["events", "nosuch"], 2, "invalid choice"),
                (["events", "identity", "--limit", "0"], 2, "--limit"),
                (["audit", "--since", "yesterday"], 2, "since"),
                (["dead-letters", "list", "nosuch.queue"], 2, "no dead-letter queue"))
    *done, away, empty = concurrently(
        *(partial(run, auditor if args[0] == "audit" else operator, *args, check=False) for args, _, _ in mistakes),
        partial(eport, "status", amqp_uri="amqp://guest:guest@127.0.0.1:1/", check=False),
        partial(eport, "status", amqp_uri=os.environ["AMQP_URI"], check=False))  # a broker with no platform on it
    for (args, code, says), one in zip(mistakes, done, strict=True):
        assert one.returncode == code and says in one.stderr and "Traceback" not in one.stderr, (args, one.stderr)
    assert away.returncode == 3 and "cannot reach the broker" in away.stderr and "Traceback" not in away.stderr
    assert empty.returncode == 3 and "unavailable" in empty.stdout


def test_long_runs_print_plain_progress_lines_when_not_on_a_terminal(broker, operator):
    with Connection(broker) as conn:
        name = f"progress-{uuid.uuid4().hex[:6]}"
        Queue(name, exchange=Exchange("", type="direct"), durable=False, auto_delete=False)(conn.channel()).declare()
        done = run(operator, "replay", "identity", "--to-queue", name)
        conn.channel().queue_delete(name)
    assert "\r" not in done.stdout and "done" in done.stdout and "/s" in done.stdout

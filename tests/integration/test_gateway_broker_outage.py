"""A broker outage during a request is a 503 SERVICE_UNAVAILABLE, never a 500, nor a connection closed
without an answer: an in-process gateway whose link to RabbitMQ (tests/fault/broker_link.py) is cut or
reset while a stand-in identity keeps its own."""
import collections
import time
from urllib.parse import urlparse

import eventlet
import pytest
import requests
from nameko.runners import ServiceRunner

from gateway.service import GatewayService
from tests.factories import new_mobile
from tests.fault.broker_link import BrokerLink
from tests.support import free_port, refusal
from tests.integration.gateway_fakes import SmsIdentity

pytestmark = pytest.mark.integration

IN_FLIGHT, ROUNDS = 24, 20


@pytest.fixture
def outage(amqp_uri):
    link = BrokerLink()
    vhost = urlparse(amqp_uri).path.lstrip("/")
    port = free_port()
    gateway = ServiceRunner({"AMQP_URI": link.uri(vhost), "serializer": "json",
                             "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}"})
    gateway.add_service(GatewayService)
    identity = ServiceRunner({"AMQP_URI": amqp_uri, "serializer": "json"})
    identity.add_service(SmsIdentity)
    identity.start()
    gateway.start()
    yield link, f"http://127.0.0.1:{port}"
    if link._listener is None:  # the test failed during the outage: a gateway stops only when it can
        link.open()
    gateway.stop()  # the link is open again by now: its connections end, and the link's pumps with them
    identity.stop()
    time.sleep(0.5)
    link.cut()


def ask_code(base):
    return requests.post(f"{base}/api/v1/sms-codes", json={"mobile": new_mobile(), "purpose": "register"}, timeout=30)


def test_a_request_during_a_broker_outage_is_503_and_the_gateway_recovers(outage):
    link, base = outage
    assert ask_code(base).status_code == 202
    link.cut()
    started = time.monotonic()
    r = ask_code(base)
    assert refusal(r) == (503, "SERVICE_UNAVAILABLE")
    assert (r.headers["Cache-Control"], r.headers["X-Content-Type-Options"]) == ("no-store", "nosniff")
    assert time.monotonic() - started < 30  # within the RPC deadline, not hung
    link.open()
    deadline = time.monotonic() + 30
    while (status := ask_code(base).status_code) != 202 and time.monotonic() < deadline:
        assert status == 503
        time.sleep(0.5)
    assert status == 202


def answer_to_a_code_request(base):
    try:
        return requests.post(f"{base}/api/v1/sms-codes", json={"mobile": new_mobile(), "purpose": "register"},
                             timeout=20).status_code  # the gateway's deadline is 10 s
    except requests.RequestException as exc:  # closed with no answer at all, or none in time
        return f"no answer ({type(exc).__name__})"


def test_requests_in_flight_when_its_broker_connections_reset_are_all_answered(outage):
    """Rounds of requests in flight, the gateway's broker connections reset (an RST) at another
    moment of their work each round. Before services/common/consuming.py, its reply listener acked
    a reply on the dead socket now and then, which ended the gateway's container and closed every
    request it held with no answer at all (about once in eight rounds here)."""
    link, base = outage
    pool = eventlet.GreenPool(IN_FLIGHT)
    answers = collections.Counter()
    for round_ in range(ROUNDS):
        asked = [pool.spawn(answer_to_a_code_request, base) for _ in range(IN_FLIGHT)]
        eventlet.sleep(0.04 + 0.005 * round_)  # replies flowing: the moment the reset hurt
        link.reset()
        answers.update(request.wait() for request in asked)
        if not set(answers) <= {202, 503}:
            break
    assert set(answers) <= {202, 503}, f"round {round_}: {dict(answers)}"
    assert answers[202] > answers[503]  # most wait the reset out: the gateway publishes again
    deadline = time.monotonic() + 30
    while (status := ask_code(base).status_code) != 202 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert status == 202

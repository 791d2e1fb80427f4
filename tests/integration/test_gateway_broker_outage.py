"""A broker outage during a request is a 503 SERVICE_UNAVAILABLE, never a 500: an in-process gateway
whose link to RabbitMQ (tests/fault/broker_link.py) is cut while a stand-in identity keeps its own."""
import time
from urllib.parse import urlparse

import pytest
import requests
from nameko.runners import ServiceRunner

from gateway.service import GatewayService
from tests.factories import new_mobile
from tests.fault.broker_link import BrokerLink
from tests.integration.test_enterprise_gateway import free_port
from tests.integration.test_gateway_input import SmsIdentity

pytestmark = pytest.mark.integration


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
    assert (r.status_code, r.json()["error"]["code"]) == (503, "SERVICE_UNAVAILABLE")
    assert time.monotonic() - started < 30  # within the RPC deadline, not hung
    link.open()
    deadline = time.monotonic() + 30
    while (status := ask_code(base).status_code) != 202 and time.monotonic() < deadline:
        assert status == 503
        time.sleep(0.5)
    assert status == 202

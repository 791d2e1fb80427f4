"""The gateway's input limits over real HTTP, in-process, with a stand-in identity: bodies too
large (413 before they are read whole), nested too deep (400, never a RecursionError's 500),
and clients too slow (the socket times out; no worker waits for them)."""
import json
import socket
import time

import pytest
import requests
from nameko.runners import ServiceRunner

from gateway.body import MAX_BODY
from gateway.service import GatewayService
from tests.factories import new_mobile
from tests.support import free_port, http_error
from tests.integration.gateway_fakes import SmsIdentity

pytestmark = pytest.mark.integration

SOCKET_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def gateway(amqp_uri):
    """(host, port) of a gateway with one worker and a 1 s socket timeout."""
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("GATEWAY_SOCKET_TIMEOUT", str(SOCKET_TIMEOUT))
    port = free_port()
    runner = ServiceRunner({"AMQP_URI": amqp_uri, "serializer": "json", "max_workers": 1,
                            "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}"})
    runner.add_service(GatewayService)
    runner.add_service(SmsIdentity)
    runner.start()
    yield "127.0.0.1", port
    runner.stop()
    monkeypatch.undo()


def post(gateway, raw, **kwargs):
    host, port = gateway
    return requests.post(f"http://{host}:{port}/api/v1/sms-codes", data=raw, timeout=20,
                         headers={"Content-Type": "application/json"}, **kwargs)


def sms_body(**extra):
    return json.dumps({"mobile": new_mobile(), "purpose": "login", **extra}).encode()


def nested(depth):
    return "[" * (depth - 1) + "]" * (depth - 1)  # inside the body's object: `depth` levels in all


def test_bodies_nested_beyond_recursion_are_400(gateway):
    for raw in (b"[" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000):
        err = http_error(post(gateway, raw), 400)
        assert err["code"] == "VALIDATION_ERROR" and "nested" in err["details"]["body"][0]


def test_json_deeper_than_32_levels_is_400(gateway):
    assert post(gateway, sms_body(x=json.loads(nested(32)))).status_code == 202
    err = http_error(post(gateway, sms_body(x=json.loads(nested(33)))), 400)
    assert err["code"] == "VALIDATION_ERROR" and "32" in err["details"]["body"][0]
    assert post(gateway, sms_body(x="[{" * 1000)).status_code == 202  # brackets in a string do not nest


def test_a_body_over_64_kib_is_413_and_one_of_64_kib_is_read(gateway):
    padding = MAX_BODY - len(sms_body(pad=""))
    assert post(gateway, sms_body(pad="x" * padding)).status_code == 202
    assert http_error(post(gateway, sms_body(pad="x" * (padding + 1))), 413)["code"] == "PAYLOAD_TOO_LARGE"
    chunks = iter([sms_body(pad="x" * (padding + 1))])  # no Content-Length: chunked transfer
    assert http_error(post(gateway, chunks), 413)["code"] == "PAYLOAD_TOO_LARGE"


def raw_request(gateway, head, body=b""):
    sock = socket.create_connection(gateway, timeout=10)
    sock.sendall(head.encode() + body)
    return sock


def read_answer(sock):
    """The status line and the whole answer (the gateway closes the connection after it)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    return data.split(b"\r\n", 1)[0].decode(), data


def head(length):
    return (f"POST /api/v1/sms-codes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n")


def test_413_comes_before_the_body_is_read_whole(gateway):
    # 1 GB announced, 64 KiB + 2 sent: the answer comes without the rest, and the gateway hangs up.
    sock = raw_request(gateway, head(10 ** 9), b"{" + b" " * (MAX_BODY + 1))
    status, data = read_answer(sock)
    assert status.startswith("HTTP/1.1 413 ") and b"PAYLOAD_TOO_LARGE" in data
    assert b"Connection: close" in data


def test_a_slow_body_times_out_and_holds_no_worker(gateway):
    started = time.monotonic()
    slow = raw_request(gateway, head(100), b'{"mobile": ')
    silent = socket.create_connection(gateway, timeout=10)  # connects and says nothing
    # The gateway has a single worker: it still answers others meanwhile.
    host, port = gateway
    assert requests.get(f"http://{host}:{port}/openapi.json", timeout=5).status_code == 200
    assert post(gateway, sms_body()).status_code == 202
    status, data = read_answer(slow)
    assert status.startswith("HTTP/1.1 408 ") and b"REQUEST_TIMEOUT" in data
    assert silent.recv(1) == b""  # hung up on
    silent.close()
    assert time.monotonic() - started < 10 * SOCKET_TIMEOUT  # bounded by the timeout, not forever

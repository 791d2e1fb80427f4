"""TLS to the broker as compose and Kubernetes configure it: an amqps:// AMQP_URI and AMQP_SSL
naming the broker's CA (deploy/config.yaml). RPC both ways, the relay's confirmed publishes and a
consumer's dead-letter parker all connect over TLS; a broker whose certificate that CA did not
sign is refused. The local RabbitMQ listens on plain TCP only, so a TLS terminator
(tests/tls_terminator.py) with the certificate `python -m deploy.broker generate` makes
(deploy/broker_tls.py) stands for its 5671 listener."""
import ssl
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
from amqp.exceptions import NotFound
from kombu import Connection
from nameko.standalone.rpc import ClusterRpcProxy

from deploy.broker import _write_private
from deploy.broker_tls import write_tls
from contracts.subscriptions import Subscription, subscription
from services.common.deadletters import dead_letter_queue
from services.common.messaging import on_event
from services.common.relay import AmqpPublisher
from services.common.rpc import rpc
from tests.support import registered, wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def _registered():  # this suite's own event types and subscription, in contracts' registries while it runs
    with registered(subscriptions=[Subscription("tlssink", "tlsdemo", ("Noted",))]):
        yield


class TlsEcho:
    name = "tlsecho"

    @rpc
    def echo(self, text):
        return text


class TlsSink:
    name = "tlssink"

    @on_event("tlssink", "tlsdemo")
    def on_noted(self, envelope):
        pass


@pytest.fixture
def tls_broker(tmp_path, amqp_uri):
    """(amqps URI, the CA's path) of a TLS listener in front of the test broker."""
    write_tls(tmp_path, "localhost", _write_private)
    upstream = urlparse(amqp_uri)
    terminator = subprocess.Popen(
        [sys.executable, "-m", "tests.tls_terminator", str(tmp_path / "server.pem"), str(tmp_path / "server.key"),
         upstream.hostname, str(upstream.port or 5672)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        port = int(terminator.stdout.readline())
        netloc = f"{upstream.username}:{upstream.password}@localhost:{port}"
        yield upstream._replace(scheme="amqps", netloc=netloc).geturl(), str(tmp_path / "ca.pem")
    finally:
        terminator.kill()
        terminator.wait()


def tls_options(ca):
    return {"ca_certs": ca, "cert_reqs": ssl.CERT_REQUIRED, "server_hostname": "localhost"}


def test_services_relay_and_parker_connect_over_tls(tls_broker, container_factory, amqp_uri):
    uri, ca = tls_broker
    config = {"AMQP_URI": uri, "AMQP_SSL": tls_options(ca), "serializer": "json"}
    for service in (TlsEcho, TlsSink):
        container_factory(service, config).start()
    with ClusterRpcProxy(config, timeout=10) as cluster:
        assert cluster.tlsecho.echo("over tls") == "over tls"

    # the relay's publisher; what it sends is no envelope, so the consumer parks it (its own connection)
    publisher = AmqpPublisher(uri, "tlsdemo", ssl=tls_options(ca))
    try:
        publisher.publish({"event_id": str(uuid.uuid4()), "event_type": "Noted", "event_version": 1})  # confirmed
    finally:
        publisher.close()
    parked = dead_letter_queue(subscription("tlssink", "tlsdemo").queue_name)

    def parked_count():
        try:
            return parked(conn.channel()).queue_declare(passive=True).message_count
        except NotFound:  # the parker declares it when it first parks
            return 0

    with Connection(amqp_uri) as conn:
        wait_for(lambda: parked_count() == 1, timeout=10, what="the malformed event parked over TLS")


def test_a_broker_certificate_from_another_ca_is_refused(tls_broker, tmp_path):
    uri, _ = tls_broker
    write_tls(tmp_path / "other", "localhost", _write_private)
    with pytest.raises(ssl.SSLCertVerificationError):
        with Connection(uri, ssl=tls_options(str(tmp_path / "other" / "ca.pem")), connect_timeout=5) as conn:
            conn.connect()

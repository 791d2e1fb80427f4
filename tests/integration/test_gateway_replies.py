"""The gateway's RPC replies are consumed without acknowledgements (services/common/rpc.py
UnackedReplyListener, services/common/consuming.py): one socket write less per call. Real RabbitMQ,
a vhost of this module's own: the broker itself says which consumers it waits for acks from (a
service's request queue still: a request is acked once answered, or redelivered), and many calls
at once each get their own answer."""
import subprocess
import shutil

import eventlet
import pytest
from nameko.constants import NON_PERSISTENT
from nameko.testing.services import dummy, entrypoint_hook

from services.common.rpc import UnconfirmedRpcProxy, call_with_deadline, rpc
from tests.support import base_amqp_uri, own_vhost, wait_for

pytestmark = pytest.mark.integration


class Echo:
    name = "ackecho"

    @rpc
    def echo(self, text):
        eventlet.sleep(0.001 * (hash(text) % 5))  # answers out of order
        return text


class Caller:
    name = "ackcaller"
    echo_service = UnconfirmedRpcProxy("ackecho", delivery_mode=NON_PERSISTENT)  # as gateway/service.py

    @dummy
    def call_many(self, texts):  # at once, in one worker (entrypoint_hook's calls would mix their answers)
        return list(eventlet.GreenPool(20).imap(
            lambda text: call_with_deadline(self.echo_service.echo, text, deadline=10), texts))


@pytest.fixture
def vhost_config(config, fresh_var):
    with own_vhost("eport-acks") as uri:
        if uri == base_amqp_uri() or not shutil.which("rabbitmqctl"):
            pytest.skip("needs a vhost of its own (rabbitmqctl), to ask the broker about its consumers")
        yield dict(config, AMQP_URI=uri)


def consumers(uri):
    """{queue name: ack required} of the vhost's consumers, as the broker sees them."""
    vhost = uri.rsplit("/", 1)[1]
    out = subprocess.run(["rabbitmqctl", "list_consumers", "-p", vhost, "queue_name", "ack_required", "--quiet",
                          "--no-table-headers"], capture_output=True, text=True, timeout=60, check=True).stdout
    return {line.split("\t")[0]: line.split("\t")[1].strip() == "true" for line in out.splitlines() if "\t" in line}


def test_the_gateways_replies_are_not_acked_and_each_call_gets_its_own_answer(container_factory, vhost_config):
    container_factory(Echo, vhost_config).start()
    caller = container_factory(Caller, vhost_config)
    caller.start()
    with entrypoint_hook(caller, "call_many") as call_many:
        assert call_many(["warm"]) == ["warm"]  # the reply queue exists and consumes
        texts = [f"text-{i}" for i in range(200)]
        assert call_many(texts) == texts

    seen = wait_for(lambda: consumers(vhost_config["AMQP_URI"]) or None, timeout=30)
    replies = {q: ack for q, ack in seen.items() if q.startswith("rpc.reply-ackcaller")}
    assert replies and not any(replies.values()), seen  # acked replies: a write per call the gateway pays
    assert seen["rpc-ackecho"] is True, seen  # a request is still acked once answered, else redelivered

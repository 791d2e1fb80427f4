"""A confirmed request the broker nacked (a channel stuck on a dead quorum queue leader refuses
every message for that queue: services/common/publishing_channels.py) is an outage: its caller
gets 503 SERVICE_UNAVAILABLE, never a 500, and the process's publishing connections are renewed
so that the next request goes out on a new channel."""
import amqp.exceptions
import kombu.exceptions
import pytest

from contracts import errors as e
from contracts.errors import ServiceError
from services.common import publishing_channels, rpc

pytestmark = pytest.mark.unit


def nacked():
    raise amqp.exceptions.MessageNacked()


def test_a_nacked_request_is_a_503_and_renews_the_publishing_connections(monkeypatch):
    renewals = []
    monkeypatch.setattr(rpc, "renew_after_a_lost_answer", lambda: renewals.append(1))
    with pytest.raises(ServiceError) as refused:
        rpc.call_with_deadline(nacked, deadline=1)
    assert refused.value.code == e.SERVICE_UNAVAILABLE and renewals == [1]


def test_a_nack_as_kombu_raises_it_renews_them_too(monkeypatch):
    renewals = []
    monkeypatch.setattr(rpc, "renew_after_a_lost_answer", lambda: renewals.append(1))

    def nacked_through_kombu():  # what a real broker's nack raises (tests/integration/test_nacked_request_broker.py)
        try:
            nacked()
        except amqp.exceptions.MessageNacked as exc:
            raise kombu.exceptions.OperationalError(str(exc)) from exc

    with pytest.raises(ServiceError) as refused:
        rpc.call_with_deadline(nacked_through_kombu, deadline=1)
    assert refused.value.code == e.SERVICE_UNAVAILABLE and renewals == [1]


def test_a_nacked_publish_inside_a_command_is_an_outage_too():
    assert isinstance(amqp.exceptions.MessageNacked(), rpc.outages())  # commands.py: nothing remembered, 503


def test_the_renewal_is_the_one_of_publishing_channels():
    assert rpc.renew_after_a_lost_answer is publishing_channels.renew_after_a_lost_answer

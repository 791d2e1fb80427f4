"""How the relay's publisher counts the broker's acks: by tag, in any order, one or many at once."""
import pytest

from services.common.relay import AmqpPublisher

pytestmark = pytest.mark.unit


def counted(*acks):
    publisher = AmqpPublisher("amqp://unused", "identity")
    for tag, multiple in acks:
        publisher._on_ack(tag, multiple)
    return publisher._acked


def test_acks_in_order_one_by_one_or_many_at_once():
    assert counted((1, False), (2, False)) == 2
    assert counted((3, True)) == 3
    assert counted((1, False), (4, True), (5, False)) == 5


def test_an_ack_ahead_of_its_turn_counts_once_the_gap_closes():
    assert counted((2, False)) == 0  # the first message is still unconfirmed
    assert counted((2, False), (3, False), (1, False)) == 3
    assert counted((3, False), (2, True)) == 3  # "up to 2" closes the gap before 3
    assert counted((5, False), (3, True)) == 3  # 4 is still open
    assert counted((2, False), (1, False), (1, False)) == 2  # a repeated ack changes nothing

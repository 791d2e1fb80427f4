"""Two notify instances on one PostgreSQL store (issue 25, item 2): the pause of an inbox swap
(`eport rebuild inbox`, services/common/swap.py) holds the other instance's calls too, so that none
writes into the live tables between the rebuild's last catch-up and the swap; the pausing
instance's own reads of its live store, outside the gate, do not wait for their own pause."""
import uuid

import eventlet
import pytest
import sqlalchemy

from services.common.postgres import within_call
from services.common.swap import SwappableEventSourced
from services.notify.application import InboxApplication
from tests.support import own_database

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def two_instances(monkeypatch, fresh_var):
    with own_database(monkeypatch):
        instances = [SwappableEventSourced(InboxApplication) for _ in range(2)]
        for instance in instances:
            instance.setup()
        try:
            yield instances
        finally:
            for instance in instances:
                instance.stop()


def test_a_swaps_pause_holds_the_calls_of_the_other_instance_until_it_ends(two_instances):
    pausing, other = two_instances
    calls = other.get_dependency(None)  # what a worker of the other instance gets
    user = str(uuid.uuid4())
    assert calls.list_messages(user)["items"] == []
    answered = []
    with pausing.paused():
        waiting = eventlet.spawn(lambda: answered.append(calls.list_messages(user)))
        eventlet.sleep(1.5)
        assert answered == [], "the other instance's call ran during the pause"
        with eventlet.Timeout(5):  # the rebuild's own read of the live store (outside the gate) does not wait
            pausing.app.recorder.max_notification_id()
    waiting.wait()
    assert answered and answered[0]["items"] == []


def test_a_pause_of_one_instance_waits_for_a_call_under_way_in_the_other(two_instances):
    pausing, other = two_instances
    other.get_dependency(None).list_messages(str(uuid.uuid4()))
    order = []

    def pause():
        with pausing.paused():
            order.append("paused")

    within_call.inside = True  # a call of the other instance under way: its transaction holds the lock shared
    try:
        with other.app.factory.datastore.session_maker() as session:
            session.execute(sqlalchemy.text("SELECT 1"))
            pauser = eventlet.spawn(pause)
            eventlet.sleep(1.0)
            order.append("call ended")
            session.commit()
    finally:
        within_call.inside = False
    pauser.wait()
    assert order == ["call ended", "paused"]

"""The loops that must outlive an outage (relays, authz's follower) say it once (services/common/outages.py
Retrying): the first failure with its traceback, a line a minute while it lasts, one when it ends."""
import logging

import pytest

from services.common.outages import Retrying
from tests.support import Clock

pytestmark = pytest.mark.unit

log = logging.getLogger("tests.retrying")


def fail(retrying):
    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except ConnectionResetError:
        return retrying.failed()


def test_an_outage_is_a_few_lines_and_the_pauses_double_up_to_the_longest(caplog):
    clock = Clock(now=1000.0)
    retrying = Retrying(log, "relay of identity", first=0.5, longest=4.0, clock=clock)
    with caplog.at_level(logging.WARNING, logger="tests.retrying"):
        pauses = []
        for _ in range(31):  # a try every 2 s for a minute
            pauses.append(fail(retrying))
            clock.advance(2)
        retrying.worked()
        retrying.worked()  # a success after a success says nothing
        assert fail(retrying) == 0.5  # the next outage starts again from the first pause
    assert pauses[:5] == [0.5, 1.0, 2.0, 4.0, 4.0] and set(pauses[3:]) == {4.0}
    assert [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records] == [
        ("ERROR", "relay of identity failed; retrying until it works", True),
        ("ERROR", "relay of identity still failing after 31 tries: [Errno 104] Connection reset by peer", False),
        ("WARNING", "relay of identity works again after 31 failed tries", False),
        ("ERROR", "relay of identity failed; retrying until it works", True),
    ]

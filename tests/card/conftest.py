"""The real PC/SC chain for the card tests: pcscd + vpcd + our emulator + pyscard.

pcscd is started once per session (or a running one reused); each test gets its own card
image from a dev CA and a virtual card it can insert and remove.
"""
import shutil
import time
from datetime import datetime, UTC

import pytest

from eport_card.devca import create_ca, issue_card

CARD = {
    "card_no": "8800000012345",
    "card_type": "operator",
    "holder_name": "张三",
    "holder_id_number": "11010519491231002X",
    "uscc": "91350100M000100Y43",
    "pin": "123456",
}


def card_present(reader: str) -> bool:
    from smartcard.scard import (SCARD_S_SUCCESS, SCARD_SCOPE_USER, SCARD_STATE_PRESENT,
                                 SCARD_STATE_UNAWARE, SCardEstablishContext, SCardGetStatusChange,
                                 SCardReleaseContext)
    hresult, context = SCardEstablishContext(SCARD_SCOPE_USER)
    assert hresult == SCARD_S_SUCCESS
    try:
        hresult, states = SCardGetStatusChange(context, 0, [(reader, SCARD_STATE_UNAWARE)])
        assert hresult == SCARD_S_SUCCESS, hex(hresult)
        return bool(states[0][1] & SCARD_STATE_PRESENT)
    finally:
        SCardReleaseContext(context)


def wait_until(predicate, timeout: float, what: str) -> float:
    began = time.monotonic()
    while not predicate():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)
    return time.monotonic() - began


def _taken(reader, settle):
    """Whether another program's card is in `reader`; `settle`: seconds to watch for one (a card
    program that waited for vpcd connects within a presence poll or two of pcscd's start)."""
    deadline = time.monotonic() + settle
    while not card_present(reader):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory):
    if shutil.which("pcscd") is None:
        pytest.skip("pcscd is not installed (`make` installs deploy/apt-packages.txt)")
    from deploy import pcsc
    daemon = pcsc.start(timeout=15, log_path=tmp_path_factory.mktemp("pcscd") / "pcscd.log")
    yield daemon
    daemon.stop()


TEST_SLOT = 1  # vpcd's second slot: a developer's `make run` card (README) sits in the first


@pytest.fixture(scope="session")
def vpcd_reader(pcscd):
    """(reader, vpcd port) of the slot the card tests have to themselves; the card agent (its
    functions and its command line) is told to use only that reader (CARD_READER). Stops the whole
    run at once when another program's card is in it already: every card test would fail."""
    from deploy.pcsc import vpcd_slot, wait_for_reader
    reader, port = vpcd_slot(TEST_SLOT)
    wait_for_reader(reader, timeout=5)
    if _taken(reader, settle=1.0 if pcscd.owned else 0.0):
        demo_reader, demo_port = vpcd_slot(0)
        pytest.exit(f"{reader} (vpcd port {port}) already holds a card: another emulator is plugged into the "
                    f"slot the card tests use. Stop it, or plug it into {demo_reader} (port {demo_port}), "
                    "and run the tests again.", returncode=3)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CARD_READER", reader)
        yield reader, port


@pytest.fixture(scope="session")
def dev_ca():
    return create_ca()


@pytest.fixture(scope="session")
def other_ca():
    return create_ca("Another CA")


@pytest.fixture
def issue(dev_ca, tmp_path):
    """Issue a card image file from the dev CA; keyword arguments override CARD."""
    def _issue(filename="card.json", ca=None, **overrides):
        path = tmp_path / filename
        issue_card(ca or dev_ca, **{**CARD, **overrides}).save(path)
        return path
    return _issue


@pytest.fixture
def card_image(issue):
    return issue()


@pytest.fixture
def virtual_card(vpcd_reader):
    from eport_card.emulator import VirtualCard
    reader, port = vpcd_reader
    card = VirtualCard(port=port)
    yield card
    card.remove()
    # The next test must start with an empty reader, not with this card's ghost.
    wait_until(lambda: not card_present(reader), 5, "pcscd to see the card removed")


@pytest.fixture
def insert(virtual_card, vpcd_reader):
    """Insert a card image and wait until pcscd sees the card; returns the seconds it took."""
    reader, _ = vpcd_reader

    def _insert(path):
        began = time.monotonic()
        virtual_card.insert(path)
        wait_until(lambda: card_present(reader), 5, "pcscd to see the card")
        return time.monotonic() - began
    return _insert


@pytest.fixture
def session(insert, card_image):
    from eport_card.agent import find_card
    insert(card_image)
    with find_card(timeout=5) as s:
        yield s


@pytest.fixture
def now():
    return datetime.now(UTC)

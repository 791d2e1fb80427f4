"""A service process freezes its start-up objects out of full garbage collections once, a while after
its container started (services/common/heap.py; bench/authz.py's p99 tail, issue 25 item 6)."""
import gc
import importlib

import eventlet
import pytest

from services.common import heap
from services.common.deployment import SERVICES
from services.common.heap import FrozenHeap
from services.common.operations import Operated
from services.common.secret_rules import StartRefused


class Probe(Operated):
    name = "heap_probe"


@pytest.fixture
def unfrozen(monkeypatch):
    """This test's process as if never frozen, and unfrozen again after it (the suite's own objects)."""
    monkeypatch.setattr(heap, "_frozen", False)
    gc.unfreeze()
    yield
    gc.unfreeze()


def _frozen_within(seconds):
    for _ in range(int(seconds / 0.05)):
        if gc.get_freeze_count():
            return True
        eventlet.sleep(0.05)
    return False


def test_a_started_service_freezes_its_objects_after_a_while(unfrozen, monkeypatch, container_factory, config):
    monkeypatch.setenv("EPORT_GC_FREEZE_SECONDS", "0.3")
    container_factory(Probe, config).start()
    assert gc.get_freeze_count() == 0  # not at once: the start's own objects are made first
    assert _frozen_within(5)
    assert gc.get_freeze_count() > 10_000  # the modules' objects, not a handful


def test_a_process_freezes_once_and_a_negative_setting_never(unfrozen, monkeypatch, container_factory, config):
    monkeypatch.setenv("EPORT_GC_FREEZE_SECONDS", "-1")
    container_factory(Probe, config).start()
    assert not _frozen_within(0.5)
    assert heap.freeze_once() and not heap.freeze_once()


def test_a_setting_that_is_no_number_refuses_the_start(monkeypatch):
    monkeypatch.setenv("EPORT_GC_FREEZE_SECONDS", "soon")
    with pytest.raises(StartRefused, match="EPORT_GC_FREEZE_SECONDS"):
        heap.freeze_seconds()


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_of_the_platform_freezes(name):
    module, _, attribute = SERVICES[name].partition(":")
    service = getattr(importlib.import_module(module), attribute)
    assert any(isinstance(value, FrozenHeap) for base in service.__mro__ for value in vars(base).values())


def test_a_service_stopped_before_the_freeze_never_freezes(unfrozen, monkeypatch, container_factory, config):
    monkeypatch.setenv("EPORT_GC_FREEZE_SECONDS", "2")
    container = container_factory(Probe, config)
    container.start()
    container.stop()
    assert not _frozen_within(3)

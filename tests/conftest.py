"""Test set-up shared by every suite.

- eventlet is monkey-patched first (nameko's plugin no longer does it);
- every test session gets its own RabbitMQ vhost (created with rabbitmqctl when it is there) and
  its own var/ directory, so runs never see each other's queues, events or SMS outbox.
"""
import warnings

warnings.filterwarnings("ignore", message="\\s*Eventlet is deprecated")
import eventlet  # noqa: E402

eventlet.monkey_patch()

import os  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

import pytest  # noqa: E402

from tests.support import generous_budgets, vhosts_deleted  # noqa: E402
from tests.support import create_vhost, delete_vhost, vhost_uri  # noqa: E402,F401 (suites import them from here)


def pytest_configure(config):
    # Runs once per session, before collection, so env is set for everything imported later.
    var = tempfile.mkdtemp(prefix="eport-test-var-")
    os.environ["EPORT_VAR"] = var
    os.environ["EPORT_ENV"] = "development"  # generated secrets, the development card CA
    os.environ.setdefault("SMS_PROVIDER", "outbox")
    os.environ["SMS_OUTBOX"] = os.path.join(var, "sms-outbox.jsonl")
    for name, value in generous_budgets().items():  # processes started by the tests inherit them
        os.environ.setdefault(name, value)
    vhost = create_vhost()
    os.environ["AMQP_URI"] = vhost_uri(vhost)
    config._eport = {"var": var, "vhost": vhost}


def pytest_unconfigure(config):
    info = getattr(config, "_eport", None)
    if not info:
        return
    delete_vhost(info["vhost"])
    vhosts_deleted()
    shutil.rmtree(info["var"], ignore_errors=True)


@pytest.fixture(scope="session")
def amqp_uri():
    return os.environ["AMQP_URI"]


@pytest.fixture
def config(amqp_uri):
    """Nameko config for in-process containers (container_factory / runner_factory)."""
    return {"AMQP_URI": amqp_uri, "serializer": "json", "max_workers": 20,
            "WEB_SERVER_ADDRESS": "127.0.0.1:0"}


@pytest.fixture
def fresh_var(monkeypatch, tmp_path):
    """A var/ of this test alone: services started after this begin on empty event stores."""
    monkeypatch.setenv("EPORT_VAR", str(tmp_path))
    monkeypatch.setenv("SMS_OUTBOX", str(tmp_path / "sms-outbox.jsonl"))
    return tmp_path

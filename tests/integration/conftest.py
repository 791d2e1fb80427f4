"""Fixtures of the integration suites beyond tests/conftest.py's."""
import pytest

from tests.support import free_port, own_vhost


@pytest.fixture(scope="module")
def authz_amqp_uri():
    with own_vhost("eport-authz") as uri:
        yield uri


@pytest.fixture
def authz_config(config, authz_amqp_uri, fresh_var):
    return dict(config, AMQP_URI=authz_amqp_uri, WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}")

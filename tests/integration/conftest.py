"""Fixtures of the integration suites beyond tests/conftest.py's."""
import pytest

from tests.support import free_port, own_vhost


@pytest.fixture(scope="module")
def module_amqp_uri(request):
    """A vhost of the test module's own, named after it: the session-scoped e2e platform may be consuming
    the session vhost's queues (rpc-identity, ...) and would answer the module's calls."""
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")
    with own_vhost(f"eport-{name}") as uri:
        yield uri


@pytest.fixture
def module_config(config, module_amqp_uri, fresh_var):
    """Nameko config on the module's vhost, a var/ of the test's own, a free port for a gateway."""
    return dict(config, AMQP_URI=module_amqp_uri, WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}")


@pytest.fixture(scope="module")
def authz_amqp_uri(module_amqp_uri):  # the authz suites' name of it
    return module_amqp_uri


@pytest.fixture
def authz_config(module_config):  # the authz suites' name of it
    return module_config

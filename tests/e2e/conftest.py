import os

import pytest
import requests
from requests.adapters import HTTPAdapter

from deploy import broker
from deploy.launch import Platform
from tests.conftest import create_vhost, delete_vhost, vhost_uri
from tests.support import free_port


@pytest.fixture(scope="session")
def platform():
    """The whole platform as processes (as `make run` starts it) on the session's var/.

    It gets a vhost of its own: its services stay up for the whole session and would otherwise
    compete with the in-process services of the integration tests for the same queues. Each
    service connects as its own broker user (deploy/broker.py), named after the vhost: users are
    global in RabbitMQ, and other test sessions run beside this one.
    """
    port = free_port()
    vhost = create_vhost("eport-e2e", exchanges=False)  # broker.setup declares them
    env = {"GATEWAY_PORT": str(port), "GATEWAY_HOST": "127.0.0.1", "LOG_LEVEL": "WARNING",
           "EPORT_ISSUER": f"http://127.0.0.1:{port}",  # single sign-on's issuer: the URL clients reach
           # a logout token a business system's endpoint refuses is tried 3 times in under a second, then parked
           "SSO_BACKCHANNEL_RETRY_DELAY": "0.2", "SSO_BACKCHANNEL_ATTEMPTS": "3",
           "AMQP_URI": vhost_uri(vhost) if vhost else os.environ["AMQP_URI"]}
    try:
        broker_uris = broker.setup(env["AMQP_URI"], namespace=vhost) if vhost else None
    except broker.BrokerSetupFailed:
        delete_vhost(vhost)
        raise
    # E2E_SERVICES=identity,notify,gateway starts a subset (while other services are being written)
    only = os.environ.get("E2E_SERVICES")
    p = Platform(env=env, only=only.split(",") if only else None, broker_uris=broker_uris,
                 log_dir=os.path.join(os.environ["EPORT_VAR"], "logs"), quiet=True)
    p.vhost = vhost
    try:
        p.start(timeout=120)
        os.environ["E2E_AMQP_URI"] = p.env["AMQP_URI"]  # for tests that talk to its broker directly
        yield p
    finally:
        p.stop()
        if broker_uris:
            broker.remove(namespace=vhost)
        delete_vhost(vhost)


def skip_unless_deployed(platform, needed):
    """Skip the calling test (or module fixture) when E2E_SERVICES leaves one of `needed` out."""
    missing = set(needed) - set(platform.services)
    if missing:
        pytest.skip(f"services not deployed in this run: {sorted(missing)}")


class FromSource(HTTPAdapter):
    """Connections from one loopback source address: another device, for the gateway and identity
    (their budgets and SMS cooldowns are per client address)."""

    def __init__(self, address):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, source_address=(self.address, 0), **kwargs)


class Api:
    def __init__(self, base_url, source=None):
        """`source`: a loopback address (127.x.y.z) to call from instead of 127.0.0.1."""
        self.base = base_url
        self.http = requests.Session()
        if source:
            self.http.mount("http://", FromSource(source))

    def from_source(self, address):
        """The same API called from `address`: another device of the same people."""
        return Api(self.base, source=address)

    def call(self, method, path, token=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, **kw):
        return self.call("POST", path, **kw)

    def put(self, path, **kw):
        return self.call("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


@pytest.fixture(scope="session")
def api(platform):
    return Api(platform.base_url)

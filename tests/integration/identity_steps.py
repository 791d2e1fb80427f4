"""The identity service suites' steps over RPC: a new SMS code as its holder receives it, a registered
account, the error a call raises (numbers in its details read back), the application of a container.
With the fixtures `module_amqp_uri` (a vhost of the module's own), `config`, `services` (identity and
notify started, identity's clock a Clock) and `rpc` (a proxy to identity), which a module takes by
name: `module_amqp_uri, config, services, rpc = steps.module_amqp_uri, steps.config, ...`.
For test_identity_service.py and test_identity_credentials.py."""
import time

import eventlet
import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from services.common.dependency import EventSourced
from services.identity.service import IdentityService
from services.notify.service import NotifyService
from tests import sms
from tests.factories import new_id_number, new_mobile
from tests.support import Clock, raised

PASSWORD = "a long enough passphrase"


def app_of(container):
    return next(d for d in container.dependencies if isinstance(d, EventSourced)).app


def fails(call, *args, **kwargs):
    err = raised(call, *args, **kwargs)
    if "retry_after" in err.details:  # nameko sends numbers inside exceptions as strings
        err.details["retry_after"] = int(err.details["retry_after"])
    return err


def new_code(rpc, mobile, purpose):
    """Asks for a code and waits for that very SMS (delivery is asynchronous: an older code of the
    same mobile and purpose may be all the outbox holds for a moment)."""
    before = len([m for m in sms.messages(mobile) if m["purpose"] == purpose])
    rpc.request_sms_code(mobile, purpose)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sent = [m for m in sms.messages(mobile) if m["purpose"] == purpose]
        if len(sent) > before:
            return sent[-1]["code"]
        eventlet.sleep(0.02)
    raise AssertionError(f"no new {purpose} SMS")


def register(rpc, password=PASSWORD, mobile=None, id_number=None):
    mobile, id_number = mobile or new_mobile(), id_number or new_id_number()
    out = rpc.register("张三", None, id_number, mobile, new_code(rpc, mobile, "register"))
    if password:
        rpc.set_password(out["user_id"], password, password_setup_token=out["password_setup_token"])
    return out["user_id"], mobile, id_number


@pytest.fixture
def config(config, module_amqp_uri):
    return dict(config, AMQP_URI=module_amqp_uri)


@pytest.fixture
def services(fresh_var, container_factory, config):
    notify = container_factory(NotifyService, config)
    identity = container_factory(IdentityService, config)
    notify.start()
    identity.start()
    clock = Clock()
    app_of(identity).clock = clock
    return identity, clock


@pytest.fixture
def rpc(config, services):
    with ClusterRpcProxy(config) as proxy:
        yield proxy.identity

"""services/common/rpc.py SignatureChecked: the arguments of every RPC and HTTP call are still
checked against the method (nameko's IncorrectSignature), on a signature built once."""
import functools
from types import SimpleNamespace

import pytest
from nameko.exceptions import IncorrectSignature

from services.common.rpc import SignatureChecked

pytestmark = pytest.mark.unit


def wrapped(fn):
    @functools.wraps(fn)
    def handler(self, request, **path_params):  # what gateway/routing.py's @route makes
        return fn(self, request, **path_params)
    return handler


class Service:
    def check_as(self, actor_user_id, user_id, enterprise_id, system="cargo"):
        return True

    @wrapped
    def register(self, request, actor, body):
        return None


def entrypoint(method="check_as"):
    checked = SignatureChecked()
    checked.container, checked.method_name = SimpleNamespace(service_cls=Service), method
    return checked


def test_a_wrapped_method_is_checked_as_the_wrapper_takes_it():
    entrypoint("register").check_signature(("request",), {"user_id": "u"})  # as nameko's getcallargs
    with pytest.raises(IncorrectSignature):
        entrypoint("register").check_signature((), {})


@pytest.mark.parametrize("args, kwargs", [(("a", "u", "e"), {}), (("a",), {"user_id": "u", "enterprise_id": "e"}),
                                          (("a", "u", "e", "s"), {})])
def test_calls_that_fit_the_method_pass(args, kwargs):
    entrypoint().check_signature(args, kwargs)


@pytest.mark.parametrize("args, kwargs", [(("a", "u"), {}), (("a", "u", "e", "s", "extra"), {}),
                                          (("a", "u", "e"), {"unknown": 1}), (("a", "u", "e"), {"actor_user_id": "x"})])
def test_calls_that_do_not_fit_are_refused_every_time(args, kwargs):
    checked = entrypoint()
    checked.check_signature(("a", "u", "e"), {})  # the signature is made once, then reused
    with pytest.raises(IncorrectSignature):
        checked.check_signature(args, kwargs)

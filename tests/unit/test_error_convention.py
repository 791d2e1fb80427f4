"""The one error convention (contracts/errors.py): every named error takes (message="", details=None)
with its code from its class, crosses RPC as the base class, and reaches the client with the status
of its code, never a 500. Walks every subclass the services define, so a new one is held to it too."""
import importlib
import json
import pkgutil

import pytest
from nameko.exceptions import deserialize, serialize

import services
from contracts import errors as e
from contracts.errors import DomainError, ServiceError
from gateway.errors import error_response, mapped_errors

pytestmark = pytest.mark.unit

def _import_every_service_module():
    # the card agent and tools (cardagent/, eport_card) are not services: they are not under services/
    for info in pkgutil.walk_packages(services.__path__, "services."):
        importlib.import_module(info.name)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def named_errors():
    _import_every_service_module()
    importlib.import_module("gateway.service")
    return sorted({c for c in _subclasses(ServiceError) if c.code != ServiceError.code},
                  key=lambda c: f"{c.__module__}.{c.__qualname__}")


def test_every_named_error_is_a_domain_error():
    """A subclass straight of ServiceError would take (code, message, details): the old trap."""
    assert [c.__name__ for c in named_errors() if not issubclass(c, DomainError)] == []


def test_the_walk_finds_the_errors_of_every_service():
    names = {c.__name__ for c in named_errors()}
    assert {"Forbidden", "RoleNotCertified", "SmsCodeInvalid", "EnterpriseHasAdmin", "CardHolderMismatch",
            "UnknownSystem", "MessageNotFound", "ValidationFailed", "Unavailable"} <= names


@pytest.mark.parametrize("error_class", named_errors(), ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_a_positional_message_is_the_message_and_the_code_is_the_class_s(error_class):
    error = error_class("A sentence someone wrote first, as the old identity errors took it.",
                        {"field": ["why"]})
    assert error.code == error_class.code
    assert error.message.startswith("A sentence")
    assert error.details == {"field": ["why"]}
    crossed = deserialize(json.loads(json.dumps(serialize(error.plain()))))  # as nameko sends it
    assert type(crossed) is ServiceError and crossed.code == error.code and crossed.details == error.details
    status = error_response(crossed.code, crossed.message, crossed.details).status_code
    assert status == mapped_errors[error.code] and status != 500


@pytest.mark.parametrize("error_class", named_errors(), ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_built_with_nothing_it_still_has_a_message(error_class):
    error = error_class()
    assert error.code == error_class.code and error.message


def test_details_first_is_refused_at_once_not_turned_into_a_code():
    with pytest.raises(TypeError):
        e.ValidationFailed({"field": ["the old order"]})


def test_default_details_are_a_copy_per_error():
    first = e.RoleNotCertified()
    first.details["role_certified"].append("changed by one raiser")
    assert e.RoleNotCertified().details == {"role_certified": [False]}


def test_retry_later_carries_whole_seconds():
    from services.identity.domain import AccountLocked
    locked = AccountLocked.after("Locked.", 12.4)
    assert locked.code == e.ACCOUNT_LOCKED and locked.details == {"retry_after": 12}


def test_shared_errors_are_defined_once():
    """Forbidden & co. live in contracts/errors.py; a service re-exports them, never defines its own."""
    shared = {"Forbidden", "Unauthenticated", "InvalidCredentials", "NotAMember", "RoleNotCertified"}
    copies = [f"{c.__module__}.{c.__name__}" for c in named_errors()
              if c.__name__ in shared and c.__module__ != "contracts.errors"]
    assert copies == []

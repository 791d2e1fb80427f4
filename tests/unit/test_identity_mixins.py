"""Fitness: the identity application's mixins (services/identity/: sms_codes.py, logins.py, …) never
call each other's privates. A mixin uses its own `self._name`s and what the `Protocol` of its module
declares it needs of the application (`LoginsHost`, …); what two mixins share lives in a collaborator
the application holds (collaborators.py: `self.sms_checks`, `self.lockout`), not in another mixin."""
import ast
import inspect
import sys

from typing import Protocol

import pytest

from services.identity.application import IdentityApplication

pytestmark = pytest.mark.unit

MIXINS = [base for base in IdentityApplication.__bases__ if base.__module__.startswith("services.identity.")]


def _is_protocol(node):
    return any(getattr(base, "id", None) == "Protocol" for base in node.bases)


def _members(cls_node):
    """Names a class body defines: its methods and annotated attributes."""
    for node in cls_node.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            yield node.target.id


def _protocol_members(cls):
    """What a Protocol class declares, with what the Protocols it extends declare (Core, …)."""
    for base in cls.__mro__:
        if getattr(base, "_is_protocol", False) and base is not Protocol:
            yield from base.__dict__.get("__annotations__", {})
            yield from (name for name, value in vars(base).items() if inspect.isfunction(value))


def _self_privates(node):
    """(line, name) of each `self._name` read or called under `node` (dunders aside)."""
    for sub in ast.walk(node):
        if (isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == "self"
                and sub.attr.startswith("_") and not sub.attr.startswith("__")):
            yield sub.lineno, sub.attr


def shape(source, namespace):
    """(names the module's own classes define, names its Protocols declare, private uses); `namespace`:
    the module's, where its Protocol classes are found."""
    classes = [node for node in ast.parse(source).body if isinstance(node, ast.ClassDef)]
    defined = {name for cls in classes if not _is_protocol(cls) for name in _members(cls)}
    declared = {name for cls in classes if _is_protocol(cls) for name in _protocol_members(namespace[cls.name])}
    uses = [use for cls in classes if not _is_protocol(cls) for use in _self_privates(cls)]
    return defined, declared, uses


def undeclared(source, namespace):
    """The `self._name`s a mixin module uses that it neither defines nor declares in its Protocol."""
    defined, declared, uses = shape(source, namespace)
    return [f"line {line}: self.{name}" for line, name in uses if name not in defined | declared]


def _shape(mixin):
    module = sys.modules[mixin.__module__]
    return shape(inspect.getsource(module), vars(module))


def test_the_application_has_mixins_to_check():
    assert {m.__name__ for m in MIXINS} >= {"SmsCodes", "PasswordSetting", "Logins", "Sessions", "IdentityClaims"}


@pytest.mark.parametrize("mixin", MIXINS, ids=lambda m: m.__name__)
def test_a_mixin_uses_only_its_own_privates_and_what_its_protocol_declares(mixin):
    module = sys.modules[mixin.__module__]
    assert _shape(mixin)[1], f"{mixin.__module__} declares no Protocol of what {mixin.__name__} needs"
    assert undeclared(inspect.getsource(module), vars(module)) == []


@pytest.mark.parametrize("mixin", MIXINS, ids=lambda m: m.__name__)
def test_no_protocol_declares_another_mixins_private(mixin):
    """A private a Protocol may name is the application's own (`_user`), never another mixin's."""
    declared = _shape(mixin)[1]
    others = {name for other in MIXINS if other is not mixin for name in _shape(other)[0]}
    assert {name for name in declared if name.startswith("_")} & others == set()


def test_the_checker_finds_a_call_of_another_mixins_private():
    source = ("from typing import Protocol\n\nclass Host(Protocol):\n    def _user(self, user_id): ...\n\n"
              "class Mixin:\n    def change(self, user_id):\n        user = self._user(user_id)\n"
              "        self._wrong_password(user, 'wrong')\n        return self._own()\n\n"
              "    def _own(self):\n        return None\n")
    namespace = {}
    exec(source, namespace)  # noqa: S102 (the test's own text)
    assert undeclared(source, namespace) == ["line 9: self._wrong_password"]


@pytest.mark.parametrize("mixin", MIXINS, ids=lambda m: m.__name__)
def test_the_application_provides_what_each_protocol_declares(mixin, monkeypatch, fresh_var):
    monkeypatch.setenv("EVENT_STORE", "memory")
    app = IdentityApplication()
    declared = _shape(mixin)[1]
    assert [name for name in sorted(declared) if not hasattr(app, name)] == []

"""The unit suites' one `app` fixture: the module's application on the in-memory store, in a var/ of
the test's own. A module names its application once, `APPLICATION = EnterpriseApplication` (a class
or any callable without arguments); one whose application needs more (a clock, a trust anchor)
defines its own `app`, which wins over this one."""
import pytest


@pytest.fixture
def app(request, monkeypatch, fresh_var):
    monkeypatch.setenv("EVENT_STORE", "memory")
    return request.module.APPLICATION()

"""schemathesis against the running platform: `/openapi.json` must say exactly what the gateway does.

Every check (`--checks all`), with a registered administrator's token and fixtures that make the
data the paths name (an enterprise, an approved member, a pending applicant, a message), so the
generated requests reach the services instead of bouncing off unknown ids. A fixed seed and a
modest example count keep it reproducible and within the suite's time budget.

Logging out (`DELETE /api/v1/sessions/current`) ends the token the rest use, so it runs apart,
with a token of its own.
"""

import pytest

from tests.e2e.conftest import skip_unless_deployed
from tests.e2e.enterprise_people import register
from tests.e2e.fuzzing import NEEDED, LOGOUT, schemathesis, make_data, params_of

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def data(api, platform):
    skip_unless_deployed(platform, NEEDED)
    return make_data(api)


OAUTH2_PROTOCOL = "^/oauth2/(authorize|token|userinfo|logout)$"


def test_schemathesis_finds_no_failure(api, data, tmp_path):
    # the OAuth 2 endpoints answer OAuth 2's redirects and errors, not this API's error body: their own
    # tests mirror the OpenID Foundation's certification modules (tests/unit/test_sso_provider.py)
    code, output = schemathesis(api.base, data["admin"].token, params_of(data), tmp_path,
                                "--exclude-path", LOGOUT, "--exclude-path-regex", OAUTH2_PROTOCOL)
    print(output[-6000:])
    assert code == 0, output[-12000:]


def test_schemathesis_finds_no_failure_in_logging_out(api, data, tmp_path):
    code, output = schemathesis(api.base, register(api).token, params_of(data), tmp_path, "--include-path", LOGOUT)
    print(output[-3000:])
    assert code == 0, output[-12000:]


def test_oauth2_endpoints_answer_hostile_input_without_a_server_error(api, data, tmp_path):
    """The OAuth 2 endpoints answer their protocol's errors, not this API's; whatever they are sent,
    never a 5xx (red team: schemathesis's positive and negative draws, not_a_server_error only)."""
    code, output = schemathesis(api.base, data["admin"].token, params_of(data), tmp_path,
                                "--include-path-regex", OAUTH2_PROTOCOL, "--mode", "all", checks="not_a_server_error")
    print(output[-6000:])
    assert code == 0, output[-12000:]

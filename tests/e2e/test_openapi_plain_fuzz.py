"""schemathesis as anyone would run it: no hooks, no strategies for the document's own formats, no config.
What the document calls valid must pass the gateway's input checks: a generated value may meet a business
answer (a wrong SMS code, an untrusted certificate), never a VALIDATION_ERROR, except for the formats
no pattern can say: the check characters of `resident-id` and `uscc`, and `page-cursor`, a token only the
server makes (each described in the document, and given strategies by tests/e2e/schemathesis_hooks.py for
the full run)."""
import json
import re

import pytest

from tests.e2e.conftest import skip_unless_deployed
from tests.e2e.fuzzing import NEEDED, make_data, params_of, schemathesis

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

# of format resident-id or uscc (a check character), and page-cursor (an opaque token only the server makes)
UNGUESSABLE_FIELDS = {"uscc", "id_number", "account", "cursor"}
REFUSED = re.compile(r'`(\{"error": \{"code": "VALIDATION_ERROR".*?\}\}\})`')


def fields_refused(output):
    return {field for body in REFUSED.findall(output) for field in json.loads(body)["error"]["details"]}


def test_plain_schemathesis_meets_no_validation_error_for_valid_data(api, platform, tmp_path):
    skip_unless_deployed(platform, NEEDED)
    data = make_data(api)
    _, output = schemathesis(api.base, data["admin"].token, params_of(data), tmp_path,
                             "--exclude-path", "/api/v1/sessions/current", config="",
                             checks="positive_data_acceptance")
    print(output[-6000:])
    assert "Schema-valid request rejected" in output or "No issues found" in output  # it ran
    assert fields_refused(output) <= UNGUESSABLE_FIELDS, output[-12000:]

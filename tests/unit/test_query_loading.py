"""gateway/routing.py keeps the loaded fields of a query string it saw before: the same answer as
loading it, each caller its own dict, and a refusal found again every time."""
import uuid

import pytest

from contracts.errors import ServiceError
from gateway.authz_schemas import CheckQuerySchema
from gateway.routing import MAX_KEPT_QUERY, _load, _load_query


def query():
    return {"user_id": str(uuid.uuid4()), "enterprise_id": str(uuid.uuid4()), "system": "manifest"}


def test_a_kept_query_loads_as_before_and_each_caller_owns_its_copy():
    q = query()
    first = _load_query(CheckQuerySchema, q)
    assert first == _load(CheckQuerySchema, dict(q), "query")
    first["system"] = "changed by the handler"
    assert _load_query(CheckQuerySchema, q) == _load(CheckQuerySchema, dict(q), "query")


@pytest.mark.parametrize("size", [10, MAX_KEPT_QUERY + 1])
def test_a_refused_query_is_refused_every_time(size):
    q = dict(query(), user_id="not-a-uuid", padding="x" * size)
    for _ in range(2):
        with pytest.raises(ServiceError) as refused:
            _load_query(CheckQuerySchema, q)
        assert "user_id" in refused.value.details

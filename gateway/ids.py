"""Ids at the gateway: the one boundary where an id from a path, a body or a query is held to its
canonical spelling (shared/API.md: lower-case UUIDs), so that no service ever sees another
spelling of an id and keys a second record under it."""
from marshmallow import ValidationError, fields

from contracts import validators
from contracts.validators import check_fields

from . import field_docs


def check_path_ids(path_params):
    """400 VALIDATION_ERROR naming every path parameter `…_id` that is not a canonical UUID."""
    ids = {name: (validators.canonical_uuid, value) for name, value in path_params.items() if name.endswith("_id")}
    if ids:
        check_fields(ids)


class Uuid(fields.String):
    """A body or query field holding an id: a canonical UUID, else the field's 400."""

    def __init__(self, metadata=None, **kwargs):
        super().__init__(metadata={**field_docs.ID, **(metadata or {})}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            return validators.canonical_uuid(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

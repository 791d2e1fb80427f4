"""The query and answer fields every paged list of the API shares (contracts/pages.py): the
owning service pages its own data; the gateway checks the input's shape and passes it on."""
from marshmallow import Schema, fields, validate

from contracts.pages import CURSOR_MAX, LIMIT_DEFAULT, LIMIT_MAX

from . import field_docs


class PageQuerySchema(Schema):
    limit = fields.Integer(load_default=LIMIT_DEFAULT, validate=validate.Range(min=1, max=LIMIT_MAX), metadata={
        "description": f"items per page, 1 to {LIMIT_MAX} (default {LIMIT_DEFAULT})"})
    cursor = fields.String(load_default=None, validate=validate.Length(max=CURSOR_MAX), metadata={
        "description": "the next_cursor of the previous page; absent or empty for the first page",
        **field_docs.PAGE_CURSOR})


class PageSchema(Schema):
    next_cursor = fields.String(required=True, allow_none=True, metadata={
        "description": "the cursor of the next page; null on the last page"})


def page_query(query):
    """The paging arguments of a checked query, for the owning service's RPC."""
    return {"limit": query["limit"], "cursor": query["cursor"]}

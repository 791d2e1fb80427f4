"""HTTP routes of the messages area (消息提醒; see shared/API.md)."""
from marshmallow import Schema, fields

from contracts import errors as e

from .pages import PageQuerySchema, PageSchema, page_query
from .routing import call, route

TAGS = ("messages",)


class MessagesQuerySchema(PageQuerySchema):
    unread = fields.Boolean(load_default=False, metadata={"description": "true: only unread messages"})


class MessageSchema(Schema):
    message_id = fields.String(required=True)
    kind = fields.String(required=True, metadata={
        "description": "association_requested, association_approved, association_rejected or admin_transferred"})
    title = fields.String(required=True)
    body = fields.String(required=True)
    data = fields.Dict(required=True, metadata={"description": "e.g. association_id for association_requested"})
    created_at = fields.String(required=True)
    read = fields.Boolean(required=True)


class MessagesSchema(PageSchema):
    items = fields.List(fields.Nested(MessageSchema), required=True)
    unread_count = fields.Integer(required=True, metadata={"description": "all unread messages, not the page's"})


class MessagesRoutes:
    @route("GET", "/api/v1/messages", summary="My messages, newest first, a page at a time",
           query=MessagesQuerySchema, response=MessagesSchema, tags=TAGS)
    def list_messages(self, request, actor, query):
        return call(self.notify.list_messages, actor.user_id, query["unread"], **page_query(query))

    @route("POST", "/api/v1/messages/{message_id}/read", summary="Mark one of my messages read", status=204,
           errors=(e.MESSAGE_NOT_FOUND,), tags=TAGS, description="404 for a message that is not the caller's.")
    def mark_read(self, request, actor, message_id):
        call(self.notify.mark_read, actor.user_id, message_id)
        return None

"""HTTP routes of the audit area (see shared/API.md)."""
from marshmallow import Schema, fields, validate

from contracts import errors as e
from contracts.envelope import CORRELATION_ID_PATTERN

from .pages import PageQuerySchema, PageSchema
from .routing import call, route


# an empty value is no filter
INSTANT = {"description": "ISO 8601 with time zone", "anyOf": [{"format": "date-time"}, {"enum": [""]}]}


class AuditQuerySchema(PageQuerySchema):
    event_type = fields.String(validate=validate.Length(max=64))
    user_id = fields.String(validate=validate.Length(max=64))
    since = fields.String(validate=validate.Length(max=40), metadata=INSTANT)
    until = fields.String(validate=validate.Length(max=40), metadata=INSTANT)
    correlation_id = fields.String(validate=validate.Regexp(CORRELATION_ID_PATTERN), metadata={
        "description": "only the events caused by the request with this X-Request-ID"})


class AuditItemSchema(Schema):
    event_id = fields.String()
    event_type = fields.String()
    occurred_at = fields.String()
    actor_user_id = fields.String(allow_none=True)
    subject = fields.String(metadata={"description": "the user the event is about, else the aggregate id"})
    payload = fields.Dict()
    source = fields.String(metadata={"description": "the service that published it"})
    correlation_id = fields.String(allow_none=True, metadata={"description": "the X-Request-ID that caused it"})


class AuditListSchema(PageSchema):
    items = fields.List(fields.Nested(AuditItemSchema))


class AuditRoutes:
    @route("GET", "/api/v1/enterprises/{enterprise_id}/audit-events", summary="The enterprise's audit trail",
           query=AuditQuerySchema, response=AuditListSchema, errors=(e.FORBIDDEN, e.ROLE_NOT_CERTIFIED),
           tags=("audit",),
           description="Every integration event about the enterprise, and its members' account events "
                       "(logins, failed logins, locks, logouts, password changes) from while they were "
                       "members; newest first, a page at a time; its administrator only, once the role is "
                       "certified (角色认证).")
    def audit_events(self, request, actor, query, enterprise_id):
        return call(self.audit.enterprise_events, actor.user_id, enterprise_id, **query)

"""The audit application: what the audit log answers, and who may ask (the store only records)."""
from datetime import datetime, UTC

from contracts import validators
from contracts.enterprise import ADMIN, APPROVED
from contracts.errors import Forbidden, RoleNotCertified
from contracts.pages import NOT_A_CURSOR, make_cursor, page_args, scope_tag
from contracts.validators import check_field, check_fields
from services.common.rpc import call_with_deadline

MAX_LIMIT = 500
FILTER_TEXT_MAX = 200
CORRELATION_ID_MAX = 128


def _instant(value):
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError("Not an ISO 8601 timestamp.") from None
    if parsed.tzinfo is None:
        raise ValueError("The timestamp needs a time zone (e.g. +08:00 or Z).")
    return parsed.astimezone(UTC).isoformat()


def _limit(value):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise ValueError(f"Between 1 and {MAX_LIMIT}.")
    return value


_filter_text = validators.optional(validators.string(FILTER_TEXT_MAX), missing=(None, ""))
_filter_instant = validators.optional(_instant, missing=(None, ""))
_correlation_id = validators.optional(validators.string(CORRELATION_ID_MAX), missing=(None, ""))


def _filters(event_type, user_id, since, until, limit, correlation_id):
    """The checked filters of an audit query (400 naming every field at fault otherwise).
    `correlation_id`: only the events one HTTP request (its X-Request-ID) caused."""
    return check_fields({"event_type": (_filter_text, event_type), "user_id": (_filter_text, user_id),
                         "since": (_filter_instant, since), "until": (_filter_instant, until),
                         "limit": (_limit, limit), "correlation_id": (_correlation_id, correlation_id)})


TRAIL_NOT_CERTIFIED = ("企业管理员角色未认证: bind the enterprise's legal-person card (法人卡) to certify your "
                       "administrator role (角色认证) before reading the audit trail.")


def check_trail_reader(membership):
    """Only the enterprise's approved administrator reads its audit trail, once the role is certified."""
    if not membership or membership.get("role") != ADMIN or membership.get("status") != APPROVED:
        raise Forbidden("Only the enterprise's administrator may read its audit trail.")
    if not membership.get("role_certified"):
        raise RoleNotCertified(TRAIL_NOT_CERTIFIED)


class AuditApplication:
    def __init__(self, store, enterprise):
        self.store = store
        self.enterprise = enterprise  # the enterprise service (its membership RPC)

    def record(self, envelope):
        self.store.record(envelope)

    def events(self, event_type=None, user_id=None, enterprise_id=None, since=None, until=None, limit=100,
               correlation_id=None):
        """The whole platform's audit log, newest first, for its operators and auditors."""
        filters = _filters(event_type, user_id, since, until, limit, correlation_id)
        enterprise_id = check_field("enterprise_id", _filter_text, enterprise_id)
        return {"items": [_without_seq(i) for i in self.store.query(enterprise_id=enterprise_id, **filters)]}

    def personal_data(self, user_id):
        """audit's part of a person's export: every entry about them (its subject) or by them (its
        actor), logins included, oldest first, payloads as recorded."""
        user_id = check_field("user_id", _filter_text, user_id)
        entries, before = [], None
        while user_id:
            page = self.store.query(user_id=user_id, limit=MAX_LIMIT, before=before)
            entries += page
            if len(page) < MAX_LIMIT:
                break
            before = (page[-1]["occurred_at"], page[-1]["seq"])
        return {"audit": [_without_seq(i) for i in reversed(entries)]}

    def enterprise_events(self, actor_user_id, enterprise_id, event_type=None, user_id=None,
                          since=None, until=None, limit=None, correlation_id=None, cursor=None):
        """A page of the audit trail of one enterprise, newest first (keyset on the log's order:
        occurred_at, seq; contracts/pages.py), with its members' account events from while they
        were members (store.py); for its administrator only."""
        check_trail_reader(call_with_deadline(self.enterprise.membership, actor_user_id, enterprise_id))
        scope = scope_tag("audit-events", enterprise_id)
        limit, after = page_args(scope, limit, cursor)
        before = check_field("cursor", _position, after)
        filters = dict(_filters(event_type, user_id, since, until, limit, correlation_id), limit=limit + 1)
        items = self.store.query(enterprise_id=enterprise_id, before=before, **filters)
        more, items = len(items) > limit, items[:limit]
        next_cursor = make_cursor(scope, (items[-1]["occurred_at"], str(items[-1]["seq"]))) if more else None
        return {"items": [_without_seq(i) for i in items], "next_cursor": next_cursor}


def _position(key):
    """(occurred_at, seq) of an audit cursor's key, None for none."""
    if key is None:
        return None
    if len(key) != 2 or not key[1].isdigit() or len(key[1]) > 18:
        raise ValueError(NOT_A_CURSOR)
    return key[0], int(key[1])


def _without_seq(item):
    return {k: v for k, v in item.items() if k != "seq"}

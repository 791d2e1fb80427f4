"""Pages of the API's lists (messages, members, association requests, audit events): `limit` (1 to
LIMIT_MAX, default LIMIT_DEFAULT) and `cursor` in, `next_cursor` (None on the last page) out.

A page is a keyset, not an offset: the cursor holds the sort key of the last item given (a tuple
of strings: a time made sortable, then the item's id), and the next page is what sorts after it,
so an item added meanwhile neither repeats nor pushes another out of sight. The owning service
pages its own data (`page_of`, or SQL on the key for the audit log), with the checks below.

A cursor is opaque to clients (base64url of JSON) and harmless: it names only the position in the
caller's own list, which the service reads as it would without a cursor, so a changed one shows
nothing more than another position of the same list. It also carries a tag of its list and owner
(a short digest of both), so that a cursor of another list, user or enterprise is refused as a bad
cursor (400 VALIDATION_ERROR naming `cursor`) rather than read as a position it never was.
"""
import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime

from .validators import check_fields

LIMIT_DEFAULT = 50
LIMIT_MAX = 200
CURSOR_MAX = 512  # characters: a longer cursor is not one of ours
_KEY_PART_MAX = 128
NOT_A_CURSOR = "Not a cursor of this list: start again without one."


def limit_input(value):
    if value is None:
        return LIMIT_DEFAULT
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= LIMIT_MAX:
        raise ValueError(f"Between 1 and {LIMIT_MAX}.")
    return value


def scope_tag(list_name, owner):
    """A short digest naming one list of one owner (a user or an enterprise)."""
    digest = hashlib.sha256(f"{list_name}\n{owner}".encode()).digest()[:9]
    return base64.urlsafe_b64encode(digest).decode()


def make_cursor(scope, key):
    raw = json.dumps([scope, *key], separators=(",", ":"), ensure_ascii=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def read_cursor(scope, cursor):
    """The key a cursor of this `scope` holds, None for no cursor; ValueError for anything else."""
    if cursor is None or cursor == "":
        return None
    if not isinstance(cursor, str) or len(cursor) > CURSOR_MAX:
        raise ValueError(NOT_A_CURSOR)
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValueError(NOT_A_CURSOR) from None
    if not isinstance(parts, list) or len(parts) < 2 or parts[0] != scope or \
            not all(isinstance(p, str) and len(p) <= _KEY_PART_MAX for p in parts[1:]):
        raise ValueError(NOT_A_CURSOR)
    return tuple(parts[1:])


def page_args(scope, limit, cursor):
    """(limit, key after which the page starts or None), checked: 400 naming `limit` or `cursor`."""
    values = check_fields({"limit": (limit_input, limit), "cursor": (lambda c: read_cursor(scope, c), cursor)})
    return values["limit"], values["cursor"]


def page_of(items, key, *, scope, limit=None, cursor=None, newest_first=False):
    """{"items": one page of `items` (dicts) ordered by `key(item)` (a tuple of strings that is
    unique per item), "next_cursor": the cursor of the next page or None}."""
    limit, after = page_args(scope, limit, cursor)
    ordered = sorted(items, key=key, reverse=newest_first)
    if after is not None:
        ordered = [i for i in ordered if (key(i) < after if newest_first else key(i) > after)]
    page = ordered[:limit]
    more = len(ordered) > limit
    return {"items": page, "next_cursor": make_cursor(scope, key(page[-1])) if more else None}


def sortable_time(value):
    """An ISO 8601 time as a string that sorts as the time does (UTC, microseconds always), the
    value itself when it is no such time, "" for none."""
    if not value:
        return ""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return str(value)
    parsed = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

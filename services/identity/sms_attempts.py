"""Who tried which SMS code, so that nobody's wrong tries keep the owner out (API.md, "General rules,
added"; issue 22). Used by SmsBox; no I/O, pure functions over the box's state (new dicts: event
state is never shared).

- A code has SMS_MAX_FAILURES tries, whoever makes them; the try that reaches it burns the code:
  every later try of it is answered as a wrong one (no information) and counts nowhere. The owner
  asks a new code and uses it at once.
- Each presenting client (the keyed digest of its address; "-" for callers that name none) has its
  own count of wrong tries per purpose; the one that reaches the limit blocks that client alone
  (429 SMS_CODE_ATTEMPTS_EXCEEDED) for a while, never another.
- Codes issued per mobile are counted per hour, all clients together, for the daily ceiling
  (Limits.sms_codes_per_mobile_day) that bounds guessing: at most that many codes, 5 tries each.
"""
HOUR = 3600
KEEP_HOURS = 25  # hourly counts kept: a day's ceiling needs 24
ANYONE = "-"  # the key of callers that name no client (as every caller was before clients were counted)


def key_of(client):
    return client or ANYONE


def with_count(counts, purpose, client, value):
    """`counts` ({purpose: {client key: value}}) with `client`'s value for `purpose`; None drops it."""
    of_purpose = {k: v for k, v in counts.get(purpose, {}).items() if k != key_of(client)}
    if value is not None:
        of_purpose[key_of(client)] = value
    return {**counts, purpose: of_purpose}


def count_of(counts, purpose, client, default=None):
    return counts.get(purpose, {}).get(key_of(client), default)


def is_live(code):
    """A code that tries may still hit: issued, unused and not burnt (expired ones are counted too)."""
    return bool(code) and not code["used"] and not code.get("burnt")


def with_issue(hours, at):
    """The hourly counts of codes issued, with one more at `at` and hours older than a day dropped."""
    hour = int(at // HOUR)
    kept = {h: n for h, n in hours.items() if int(h) > hour - KEEP_HOURS}
    return {**kept, str(hour): kept.get(str(hour), 0) + 1}


def issued_in_last_day(hours, now):
    """(codes issued in the hours that overlap the last 24 h, seconds until the oldest counted leaves)."""
    first = int(now // HOUR) - 23
    counted = {int(h): n for h, n in hours.items() if int(h) >= first}
    if not counted:
        return 0, 0
    return sum(counted.values()), (min(counted) + 24) * HOUR - now

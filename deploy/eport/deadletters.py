"""`eport dead-letters list|replay|drop`: the messages consumers parked (services/common/deadletters.py)."""
import json

from kombu import Queue

from contracts.subscriptions import SUBSCRIPTIONS
from services.common import deadletters as dl

from .broker import connection, queue_depth, record_operation, replay_producer
from .errors import FAILED, OK, CommandError, usage
from .progress import Progress
from .rows import print_rows

MAX_LIST = 1000


def _names(queue):
    """(consumer queue, its dead-letter queue) for either name."""
    if queue.endswith(dl.SUFFIX):
        return queue[: -len(dl.SUFFIX)], queue
    return queue, dl.dead_letter_queue_name(queue)


def _open(conn, queue):
    source, dead = _names(queue)
    count = queue_depth(conn, dead)
    if count is None:
        raise usage(f"no dead-letter queue {dead!r}: nothing of {source!r} was ever parked")
    return source, dead, count


def _fetched(channel, dead, count):
    """The parked messages, unacknowledged (closing the channel puts back what was not acked)."""
    parked = Queue(dead, channel=channel, no_declare=True)
    for _ in range(count):
        message = parked.get(no_ack=False)
        if message is None:
            return
        yield message


def _summary(message):
    headers = message.headers or {}
    try:
        body = json.loads(message.body)
    except (TypeError, ValueError):
        body = None
    envelope = body if isinstance(body, dict) else {}
    return {"message_id": message.properties.get("message_id") or envelope.get("event_id"),
            "event_type": envelope.get("event_type"), "source": envelope.get("source"),
            "queue": headers.get(dl.QUEUE), "failures": headers.get(dl.FAILURES),
            "parked_at": headers.get(dl.PARKED_AT), "reason": headers.get(dl.REASON),
            "traceback": headers.get(dl.TRACEBACK)}


def list_all(out, as_json):
    with connection() as conn:
        rows = []
        for sub in SUBSCRIPTIONS:
            rows.append({"queue": sub.queue_name, "dead_letters": queue_depth(conn, dl.dead_letter_queue_name(
                sub.queue_name)) or 0})
    for row in rows:
        print(json.dumps(row) if as_json else f"{row['queue']:<32}{row['dead_letters']:>8}", file=out)
    return OK


def _dead_letter_line(item):
    line = (f"{item['parked_at'] or '-'}  {item['message_id'] or '(no id)'}  "
            f"{item['source'] or '?'}.{item['event_type'] or '?'}  failures {item['failures']}  {item['reason']}")
    return f"{line}\n    {item['traceback']}" if item["traceback"] else line


def list_queue(queue, limit, out, as_json):
    with connection() as conn:
        _, dead, count = _open(conn, queue)
        with conn.channel() as channel:
            items = [_summary(m) for m in _fetched(channel, dead, min(count, limit))]
    print_rows(items, out, as_json, _dead_letter_line, f"(no dead letters in {dead})")
    return OK


def _wanted(message, ids):
    return not ids or _summary(message)["message_id"] in ids


def replay(queue, ids, out):
    """Put parked messages back on their consumer's queue alone (eport.replay), as they came."""
    replayed = 0
    with connection() as conn:
        source, dead, count = _open(conn, queue)
        if queue_depth(conn, source) is None:
            raise usage(f"no queue {source!r} to replay into")
        with conn.channel() as channel, Progress(f"replay {dead}", count, out) as progress:
            producer = replay_producer(channel, source)
            for message in _fetched(channel, dead, count):
                if _wanted(message, ids):
                    headers = message.headers or {}
                    properties = {k: message.properties[k] for k in ("message_id", "correlation_id", "type")
                                  if message.properties.get(k)}
                    producer.publish(message.body, routing_key=source, delivery_mode=2,
                                     headers=dl.original_headers(headers), content_type=message.content_type,
                                     content_encoding=message.content_encoding, **properties)
                    message.ack()  # only after the broker confirmed the copy
                    replayed += 1
                progress.update()
    print(f"replayed {replayed} message(s) from {dead} to {source}", file=out)
    return _all_found(ids, replayed)


def drop(queue, ids, drop_all, out):
    if not ids and not drop_all:
        raise usage("say which: --id EVENT_ID (repeatable) or --all")
    dropped = 0
    with connection() as conn:
        _, dead, count = _open(conn, queue)
        with conn.channel() as channel:
            for message in _fetched(channel, dead, count):
                if _wanted(message, ids):
                    message.ack()
                    dropped += 1
    print(f"dropped {dropped} message(s) from {dead}", file=out)
    return _all_found(ids, dropped)


def _all_found(ids, n):
    if ids and n < len(set(ids)):
        raise CommandError(f"only {n} of the {len(set(ids))} ids asked for were parked there", FAILED)
    return OK


def add_parser(sub):
    p = sub.add_parser("dead-letters", help="list, replay or drop the messages consumers parked")
    verbs = p.add_subparsers(dest="verb", required=True)
    ls = verbs.add_parser("list", help="dead letters per consumer queue, or the messages of one")
    ls.add_argument("queue", nargs="?", help="a consumer queue (e.g. audit.identity-events) or its dead-letter queue")
    ls.add_argument("--limit", type=int, default=100, help=f"at most this many (up to {MAX_LIST})")
    ls.add_argument("--json", action="store_true")
    for verb, text in (("replay", "put them back on the consumer's queue"), ("drop", "delete them")):
        v = verbs.add_parser(verb, help=text)
        v.add_argument("queue")
        v.add_argument("--id", dest="ids", action="append", default=[], help="an event id (repeatable); default all")
        if verb == "drop":
            v.add_argument("--all", dest="drop_all", action="store_true")
    p.set_defaults(run=run)


def run(args, out):
    if args.verb == "list":
        if args.queue is None:
            return list_all(out, args.json)
        if not 1 <= args.limit <= MAX_LIST:
            raise usage(f"--limit must be from 1 to {MAX_LIST}")
        return list_queue(args.queue, args.limit, out, args.json)
    if args.verb == "drop" and not args.ids and not args.drop_all:
        raise usage("say which: --id EVENT_ID (repeatable) or --all")
    record_operation(f"dead-letters-{args.verb}", args.queue, {"ids": args.ids[:100], "all": not args.ids})
    if args.verb == "replay":
        return replay(args.queue, args.ids, out)
    return drop(args.queue, args.ids, args.drop_all, out)

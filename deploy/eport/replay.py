"""`eport replay SERVICE --to-queue QUEUE`: a service's history again, to one subscriber's queue.

Through the tool's exchange `eport.replay`, on which the queue is bound by its own name (as on
RabbitMQ's default exchange): the message reaches that queue and no other, whatever is bound to
the service's exchange. Each message is what the
relay publishes (same body, `message_id` = event_id), so the subscriber drops what it already has.
"""
from .broker import call, connection, record_operation, replay_producer, require_queue, rpc
from .errors import OK, usage
from .events import PUBLISHERS, stream
from .progress import Progress


def publish_history(proxy, service, queue, after=0, out=None, what=None):
    """Publishes the events of `service` after `after` to `queue` alone, with confirms;
    returns (how many, the last position sent)."""
    end = call(proxy, service, "ops_events", after=after, limit=1)["end"]
    sent, position = 0, after
    with connection() as conn:
        require_queue(conn, queue)
        with conn.channel() as channel, Progress(what or f"replay {service} -> {queue}", max(end - after, 0), out,
                                                 unit="notifications") as progress:
            producer = replay_producer(channel, queue, serializer="json")
            for item in stream(proxy, service, after):
                envelope = {k: v for k, v in item.items() if k != "position"}
                producer.publish(envelope, routing_key=queue, delivery_mode=2, message_id=envelope["event_id"],
                                 headers={"event_version": envelope["event_version"]})
                sent += 1
                progress.update(item["position"] - position)
                position = item["position"]
    return sent, position


def run(args, out):
    if args.start < 0:
        raise usage("--from must be 0 or more")
    with rpc() as proxy:
        record_operation("replay", args.to_queue, {"service": args.service, "after": args.start}, proxy)
        sent, position = publish_history(proxy, args.service, args.to_queue, args.start, out)
    print(f"replayed {sent} {args.service} event(s) after position {args.start} to {args.to_queue} "
          f"(up to position {position})", file=out)
    return OK


def add_parser(sub):
    p = sub.add_parser("replay", help="redeliver a service's history to one subscriber's queue only")
    p.add_argument("service", choices=PUBLISHERS)
    p.add_argument("--to-queue", required=True, help="the subscriber's existing queue")
    p.add_argument("--from", dest="start", type=int, default=0, help="after this position (default 0: everything)")
    p.set_defaults(run=run)

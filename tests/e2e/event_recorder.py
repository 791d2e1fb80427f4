"""A subscriber of another system, as plain as they come: pika, no platform code. Binds one queue
of its own to `#` on each exchange named on the command line and writes every message it gets
as one JSON line (exchange, routing key, properties, body as text) to the output file.

    python tests/e2e/event_recorder.py AMQP_URI OUTPUT EXCHANGE...

Prints "ready" once bound; stops on SIGTERM.
"""
import json
import signal
import sys

import pika


def main(amqp_uri, output, exchanges):
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    channel = connection.channel()
    queue = channel.queue_declare(queue="", exclusive=True, auto_delete=True).method.queue
    for name in exchanges:
        channel.exchange_declare(name, exchange_type="topic", durable=True, passive=False)
        channel.queue_bind(queue, name, routing_key="#")
    out = open(output, "a", encoding="utf-8")

    def record(ch, method, properties, body):
        out.write(json.dumps({
            "exchange": method.exchange, "routing_key": method.routing_key,
            "properties": {"content_type": properties.content_type, "delivery_mode": properties.delivery_mode,
                           "message_id": properties.message_id, "headers": properties.headers},
            "body": body.decode("utf-8")}, ensure_ascii=False) + "\n")
        out.flush()
        ch.basic_ack(method.delivery_tag)

    channel.basic_consume(queue, record)
    signal.signal(signal.SIGTERM, lambda *_: channel.stop_consuming())
    print("ready", flush=True)
    channel.start_consuming()
    out.close()
    connection.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])

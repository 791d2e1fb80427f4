"""A TLS listener in front of a plain TCP one, run as its own process (plain threads, no eventlet):
stands for a broker's TLS port in tests, since the local RabbitMQ listens on TCP only.

    python -m tests.tls_terminator CERT KEY UPSTREAM_HOST UPSTREAM_PORT   # prints the port it listens on
"""
import socket
import ssl
import sys
import threading


def _pipe(source, sink):
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            try:
                end.close()
            except OSError:
                pass


def main(cert, key, host, port):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    while True:
        client, _ = listener.accept()
        try:
            tls = context.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError):  # a client that does not trust the certificate hangs up
            client.close()
            continue
        upstream = socket.create_connection((host, int(port)))
        threading.Thread(target=_pipe, args=(tls, upstream), daemon=True).start()
        threading.Thread(target=_pipe, args=(upstream, tls), daemon=True).start()


if __name__ == "__main__":
    main(*sys.argv[1:])

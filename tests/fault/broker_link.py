"""A loopback TCP relay between a platform and RabbitMQ: cutting it is a broker outage for that
platform alone (its connections drop, new ones are refused), without touching the shared broker."""
import socket
import threading

UPSTREAM = ("127.0.0.1", 5672)


class BrokerLink:
    def __init__(self, upstream=UPSTREAM):
        self.upstream = upstream
        self.port = None
        self._listener = None
        self._conns = set()
        self._lock = threading.Lock()
        self.accepted = 0  # connections made through the link so far
        self.open()

    def open(self):
        """Accept connections (again), on the same port."""
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port or 0))
        sock.listen(64)
        self.port = sock.getsockname()[1]
        self._listener = sock
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def cut(self):
        """Drop every connection and refuse new ones until `open()`. Sockets are only shut down
        here and closed by the green thread reading them: under eventlet, a socket closed under
        a reader lets its fd number be reused while the reader still waits on it."""
        listener, self._listener = self._listener, None
        with self._lock:
            conns, self._conns = self._conns, set()
        for sock in ([listener] if listener is not None else []) + list(conns):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def uri(self, vhost):
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{vhost}"

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # cut
                listener.close()
                return
            if self._listener is not listener:  # cut while accepting
                client.close()
                listener.close()
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._conns.update((client, server))
                self.accepted += 1
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src, dst):
        """Copies src to dst; at its end shuts both down (the other pump then ends) and closes src,
        the socket this thread reads."""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except Exception:  # noqa: BLE001 - the other side closed, or cut() did (eventlet: EOFError)
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except Exception:  # noqa: BLE001
                pass
        with self._lock:
            self._conns.discard(src)
        src.close()

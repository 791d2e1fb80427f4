"""A loopback TCP relay between a platform and RabbitMQ: cutting it is a broker outage for that
platform alone (its connections drop, new ones are refused), without touching the shared broker;
resetting it is what a stopping RabbitMQ does to its clients (their sockets read ECONNRESET).

The relay runs on the operating system's threads and sockets, even in a process eventlet patched:
its pumps then never share the hub with the connections they carry, and a reset is over (the RST
sent) when `reset()` returns, however long the caller's green threads do not yield.
"""
import struct

import eventlet.patcher

socket = eventlet.patcher.original("socket")
threading = eventlet.patcher.original("threading")

UPSTREAM = ("127.0.0.1", 5672)
ABORT = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends an RST, not a FIN


class BrokerLink:
    def __init__(self, upstream=UPSTREAM):
        self.upstream = upstream
        self.port = None
        self._listener = None
        self._conns = set()
        self._clients = {}  # the platform's ends of _conns, oldest first
        self._resetting = set()
        self._lock = threading.Condition()
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
        here (which wakes the thread reading each) and closed by that thread."""
        listener, self._listener = self._listener, None
        with self._lock:
            conns, self._conns = self._conns, set()
        for sock in ([listener] if listener is not None else []) + list(conns):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def reset(self, oldest=None, timeout=5.0):
        """Abort every connection of the platform's, or its `oldest` ones (an RST, no AMQP close),
        and return once each is closed; new connections are accepted as before. A client that
        writes on such a socket before its reader noticed gets ECONNRESET."""
        with self._lock:
            clients = list(self._clients)[:oldest]
            self._resetting.update(clients)
        for sock in clients:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, ABORT)
                sock.shutdown(socket.SHUT_RD)  # sends nothing; its pump wakes and closes it
            except OSError:
                pass
        with self._lock:
            if not self._lock.wait_for(lambda: not any(c in self._clients for c in clients), timeout):
                raise AssertionError(f"the link did not reset its connections within {timeout}s")

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
                self._clients[client] = None
                self.accepted += 1
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src, dst):
        """Copies src to dst; at its end shuts both down (the other pump then ends) and closes src,
        the socket this thread reads (a reset one first, so that its RST goes before the FIN)."""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except Exception:  # noqa: BLE001 - the other side closed, or cut() did
            pass
        with self._lock:
            aborted = src in self._resetting
            self._resetting.discard(src)
        if aborted:
            src.close()
        for s in (dst,) if aborted else (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except Exception:  # noqa: BLE001
                pass
        with self._lock:
            self._conns.discard(src)
            self._clients.pop(src, None)
            self._lock.notify_all()
        src.close()

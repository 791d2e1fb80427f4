"""A business system's back-channel logout endpoint on loopback (a real HTTP server in a thread), for the
tests of single sign-on's back-channel logout: it records what was POSTed and answers `status`."""
import http.server
import threading
import time
from urllib.parse import parse_qs


class Endpoint:
    """A business system's back-channel logout endpoint on loopback, answering `status`."""

    def __init__(self, status=200):
        self.received, self.status = [], status
        self.first_at = None  # time.monotonic() of the first POST
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                endpoint.first_at = endpoint.first_at or time.monotonic()
                endpoint.received.append((self.headers["Content-Type"], self.rfile.read(length).decode()))
                self.send_response(endpoint.status)
                self.send_header("Cache-Control", "no-store")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}/backchannel-logout"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def tokens(self):
        return [parse_qs(text)["logout_token"][0] for _, text in self.received]

    def close(self):
        self.server.shutdown()
        self.server.server_close()

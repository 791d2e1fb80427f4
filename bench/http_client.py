"""The benchmarks' HTTP client: keep-alive HTTP/1.1 on the standard library, because the client
shares the machine's two cores with what it measures and `requests` cost about 1.5 ms of CPU per
call (bench/login.py's "CPU per login" shows the client's share)."""
import http.client
import json
from urllib.parse import urlencode


class KeepAlive:
    """One connection to the gateway; one per thread (or green thread), never shared. `source`: the
    loopback address it comes from (127.x.y.z), which the gateway's budgets count as a client."""

    def __init__(self, port, host="127.0.0.1", timeout=30, source=None):
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout,
                                               source_address=(source, 0) if source else None)

    def call(self, method, path, token=None, body=None, params=None):
        """(status, decoded JSON body or None)."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if params:
            path = f"{path}?{urlencode(params)}"
        data = None if body is None else json.dumps(body).encode()
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
        except http.client.RemoteDisconnected:  # a kept-alive connection the server closed meanwhile:
            self.conn.close()  # once more on a new one, as HTTP clients do
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
        raw = resp.read()
        if resp.will_close:  # the server said Connection: close; the next call opens another
            self.conn.close()
        return resp.status, (json.loads(raw) if raw else None)

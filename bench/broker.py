"""A RabbitMQ vhost of a benchmark's own, so that nothing else's queues share its broker traffic."""
import shutil
import subprocess
import uuid
from urllib.parse import urlparse


class Vhost:
    """`with Vhost(base_uri) as amqp_uri:` a fresh vhost (through rabbitmqctl when it is on this
    machine, else the base URI itself), deleted afterwards; `.name` is None without one."""

    def __init__(self, base_uri):
        self.base_uri = base_uri
        self.name = None
        self.exe = shutil.which("rabbitmqctl")

    def _ctl(self, *args):
        return subprocess.run([self.exe, *args], capture_output=True, timeout=60).returncode == 0

    def __enter__(self):
        """The vhost's URI, with the exchanges `python -m deploy.broker setup` declares (services
        bind to them without declaring them)."""
        from deploy.broker import declare_exchanges

        uri = self._vhost()
        declare_exchanges(uri)
        return uri

    def _vhost(self):
        parsed = urlparse(self.base_uri)
        if self.exe:
            name = f"eport-bench-{uuid.uuid4().hex[:8]}"
            if self._ctl("add_vhost", name) and self._ctl("set_permissions", "-p", name,
                                                          parsed.username or "guest", ".*", ".*", ".*"):
                self.name = name
                return parsed._replace(path="/" + name).geturl()
        return self.base_uri

    def __exit__(self, *exc):
        if self.name:
            self._ctl("delete_vhost", self.name)

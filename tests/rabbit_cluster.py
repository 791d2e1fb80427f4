"""A RabbitMQ cluster of three nodes on this machine, for the cluster fault suite (tests/fault/).

Each node is the Debian `rabbitmq-server` already installed, run from /usr/lib/rabbitmq/bin (not the
/usr/sbin wrapper, which runs it as the `rabbitmq` user with that user's cookie) with a name, an AMQP
port, a distribution port, a config, a log and a data folder of its own under one temporary folder,
and one Erlang cookie of the cluster's own (`$HOME/.erlang.cookie`, HOME being that folder): the
machine's node (rabbit@localhost on 5672, which other tests use) never hears of it, nor could it
join it. The machine's /etc/rabbitmq (its env file, its config) is not read. No management plugin.

    with RabbitCluster() as cluster:       # the nodes boot at once; b and c then join a
        cluster.ctl("a", "list_queues")    # rabbitmqctl -n <a's name> list_queues
        uri = cluster.uri(vhost, user, password)   # amqp://…:pa/vhost;amqp://…:pb/vhost;amqp://…:pc/vhost
        cluster.stop("a")                  # rabbitmqctl stop: a graceful stop
        cluster.kill("b")                  # kill -9 of its Erlang VM
        cluster.start("a")                 # back, with its data: it rejoins the cluster by itself

Node names carry this process's id (eport-<pid>-a@localhost): two test runs on one machine each
have their own cluster. Everything a node started lives in its own process group, which `close()`
kills; a node that does not answer within its deadline fails the start with its log's tail.
"""
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from tests.support import free_port

BIN = Path("/usr/lib/rabbitmq/bin")
LETTERS = ("a", "b", "c")


def available():
    return (BIN / "rabbitmq-server").exists()


class Node:
    def __init__(self, letter, base, tag):
        self.letter = letter
        self.name = f"eport-{tag}-{letter}@localhost"
        self.port, self.dist_port = free_port(), free_port()
        self.dir = base / letter
        self.proc = None

    def env(self, home):
        d = self.dir
        return {**os.environ, "HOME": str(home),
                "RABBITMQ_NODENAME": self.name, "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),  # empty: not /etc/rabbitmq's
                "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
                "RABBITMQ_MNESIA_BASE": str(d / "mnesia"), "RABBITMQ_LOG_BASE": str(d / "log"),
                "RABBITMQ_PID_FILE": str(d / "pid"),
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
                # the CLI's own distribution ports: away from the machine's CLI calls' 35672-35682
                "RABBITMQ_CTL_DIST_PORT_MIN": str(self.dist_port + 1),
                "RABBITMQ_CTL_DIST_PORT_MAX": str(self.dist_port + 11)}

    def write_config(self):
        for sub in ("mnesia", "log"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (self.dir / "rabbitmq-env.conf").write_text("")
        (self.dir / "advanced.config").write_text("[].\n")
        (self.dir / "enabled_plugins").write_text("[].\n")
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\n"
            "loopback_users = none\n"
            "cluster_partition_handling = pause_minority\n"
            "log.file.level = info\n"
            "log.console = false\n")

    def os_pid(self):
        pid_file = self.dir / "pid"
        return int(pid_file.read_text().strip()) if pid_file.exists() else None

    def log_tail(self, lines=20):
        logs = sorted((self.dir / "log").glob("*.log")) + sorted((self.dir / "log").glob("console.out"))
        text = "\n".join(p.read_text(errors="replace") for p in logs)
        return "\n".join(text.splitlines()[-lines:])


class RabbitCluster:
    BOOTS = 2  # a node that dies while booting (seen once in ~20 boots, its log empty) costs one more try

    def __init__(self, size=3, boot_timeout=180):
        self.base = Path(tempfile.mkdtemp(prefix="eport-rabbit-cluster-"))
        self.size, self.boot_timeout = size, boot_timeout
        self._new_nodes()
        cookie = self.base / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(20).upper())
        cookie.chmod(0o400)

    def _new_nodes(self):
        """Nodes of new names, ports and empty folders."""
        tag = f"{os.getpid()}{secrets.token_hex(2)}"
        self.nodes = {letter: Node(letter, self.base, tag) for letter in LETTERS[:self.size]}
        for node in self.nodes.values():
            shutil.rmtree(node.dir, ignore_errors=True)

    # -- the whole cluster ---------------------------------------------------------------------
    def __enter__(self):
        for boot in range(1, self.BOOTS + 1):
            try:
                return self.boot()
            except AssertionError as exc:
                for node in self.nodes.values():
                    self._killpg(node)
                if boot == self.BOOTS:
                    self.close()
                    raise
                print(f"[rabbit cluster] boot {boot} failed, again with other names and ports: {exc}", flush=True)
                self._new_nodes()
            except BaseException:
                self.close()
                raise

    def __exit__(self, *exc):
        self.close()

    def boot(self):
        """Every node at once, then the others join the first (stop_app, join_cluster, start_app)."""
        for node in self.nodes.values():
            node.write_config()
            self._spawn(node)
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(self.await_running, self.nodes))
        first, *others = self.nodes
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda letter: self.ctl(letter, "stop_app"), others))
            for letter in others:  # one at a time: each changes the cluster's membership
                self.ctl(letter, "join_cluster", self.nodes[first].name)
            list(pool.map(lambda letter: self.ctl(letter, "start_app"), others))
        running = self.running_nodes(first)
        assert running == {n.name for n in self.nodes.values()}, f"the cluster has {running}"
        return self

    def close(self):
        """Kills every process a node started (its process group), then removes the folder."""
        for node in self.nodes.values():
            self._killpg(node)
        shutil.rmtree(self.base, ignore_errors=True)

    def uri(self, vhost="/", user="guest", password="guest", letters=None):
        """The AMQP URIs of the nodes, `;`-separated: what kombu fails over between."""
        path = "" if vhost == "/" else quote(vhost, safe="")
        cred = f"{quote(user, safe='')}:{quote(password, safe='')}"
        return ";".join(f"amqp://{cred}@127.0.0.1:{self.nodes[x].port}/{path}" for x in letters or self.nodes)

    def ctl(self, letter, *args, timeout=120, tool="rabbitmqctl", stdin=None, check=True):
        """`rabbitmqctl -n <node> args…` (or another CLI `tool`) as this cluster's cookie holder."""
        node = self.nodes[letter]
        done = subprocess.run([str(BIN / tool), "-n", node.name, *args], env=node.env(self.base),
                              input=stdin, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"{tool} -n {node.name} {' '.join(args)}: exit {done.returncode}: "
                                 f"{(done.stderr or done.stdout).strip()[-800:]}")
        return done

    def running_nodes(self, letter):
        status = json.loads(self.ctl(letter, "cluster_status", "--formatter", "json").stdout)
        return set(status.get("running_nodes", []))

    def add_vhost(self, prefix="eport"):
        vhost = f"{prefix}-{secrets.token_hex(4)}"
        self.ctl("a", "add_vhost", vhost)
        self.ctl("a", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        return vhost

    def users(self, vhost):
        """The platform's broker users on `vhost`, made by deploy/broker.py's own setup (its
        rabbitmqctl being this cluster's): role -> its AMQP URI, every node's address in it."""
        from deploy import broker
        with self.rabbitmqctl_on_path():
            return broker.setup(self.uri(vhost), namespace=f"eport-{vhost}")

    @contextmanager
    def rabbitmqctl_on_path(self, letter="a"):
        """A `rabbitmqctl` first on PATH that speaks to node `letter` with this cluster's cookie:
        what an operator's shell on that node's host has."""
        node, bin_dir = self.nodes[letter], self.base / "bin"
        bin_dir.mkdir(exist_ok=True)
        script = bin_dir / "rabbitmqctl"
        env = node.env(self.base)
        exports = " ".join(f"{k}='{env[k]}'" for k in ("HOME", "RABBITMQ_CTL_DIST_PORT_MIN",
                                                        "RABBITMQ_CTL_DIST_PORT_MAX"))
        script.write_text(f'#!/bin/sh\nexport {exports}\nexec {BIN / "rabbitmqctl"} -n {node.name} "$@"\n')
        script.chmod(0o755)
        path = os.environ["PATH"]
        os.environ["PATH"] = f"{bin_dir}:{path}"
        try:
            yield script
        finally:
            os.environ["PATH"] = path

    # -- one node ------------------------------------------------------------------------------
    def start(self, letter):
        """A stopped or killed node started again, on its data: it rejoins the cluster."""
        node = self.nodes[letter]
        if node.proc is not None and node.proc.poll() is None:
            raise AssertionError(f"{node.name} is running")
        self._spawn(node)
        self.await_running(letter)

    def stop(self, letter):
        """A graceful stop: `rabbitmqctl stop`, which returns once the node's VM is gone."""
        node = self.nodes[letter]
        self.ctl(letter, "stop", str(node.dir / "pid"))
        node.proc.wait(60)

    def kill(self, letter):
        """kill -9 of the node's Erlang VM, nothing said to anyone."""
        node = self.nodes[letter]
        pid = node.os_pid()
        os.kill(pid, signal.SIGKILL)
        node.proc.wait(30)
        self._killpg(node)  # its port helpers (erl_child_setup, inet_gethost), if any outlived it

    def await_running(self, letter):
        node, deadline = self.nodes[letter], time.monotonic() + self.boot_timeout
        while True:
            if node.proc.poll() is not None:
                raise AssertionError(f"{node.name} exited with {node.proc.returncode}:\n{node.log_tail()}")
            try:
                if self.ctl(letter, "await_startup", "--timeout", "5", timeout=60, check=False).returncode == 0:
                    return
            except Exception as exc:  # the CLI's own VM slow to start on a busy machine: ask again
                if type(exc).__name__ != "TimeoutExpired":  # the stdlib's class, not eventlet's green one
                    raise
            if time.monotonic() > deadline:
                raise AssertionError(f"{node.name} not running after {self.boot_timeout}s:\n{node.log_tail()}")
            time.sleep(0.5)

    def _spawn(self, node):
        out = open(node.dir / "log" / "console.out", "ab")
        node.proc = subprocess.Popen([str(BIN / "rabbitmq-server")], env=node.env(self.base), cwd=node.dir,
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        out.close()

    def _killpg(self, node):
        if node.proc is None:
            return
        try:
            os.killpg(node.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            node.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass

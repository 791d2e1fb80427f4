"""The PC/SC chain for the card tests and demos: pcscd with the vpcd virtual reader.

    python -m deploy.pcsc check    # is everything installed? (exit 1 and say what is missing)
    python -m deploy.pcsc start    # start pcscd as a daemon, wait for the "Virtual PCD" reader
    python -m deploy.pcsc status
    python -m deploy.pcsc stop

Measured on Debian 12 (pcsc-lite 1.9.9, vsmartcard-vpcd 3.3): pcscd creates /run/pcscd itself
(as root), vpcd listens ~25 ms after the start, and the reader list shows "Virtual PCD 00 00"
(port 35963) and "Virtual PCD 00 01" (port 35964). A card plugged into vpcd is seen at the
next presence poll, ~0.4 s later. pcscd ignores PCSCLITE_CSOCK_NAME (only the client library
reads it), so one pcscd per machine: start() reuses a running one instead of fighting it.
Never run pcscd with -a/--apdu here: it would log the PIN of every VERIFY in clear.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

VPCD_CONF = Path("/etc/reader.conf.d/vpcd")
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
RUN_DIR = Path("/run/pcscd")
PID_FILE = RUN_DIR / "pcscd.pid"
READER_PREFIX = "Virtual PCD"
DEFAULT_VPCD_PORT = 35963


def problems() -> list[str]:
    """What is missing for the chain to work; empty when all is there."""
    found = []
    if shutil.which("pcscd") is None:
        found.append("pcscd is not installed (apt-get install pcscd)")
    if not VPCD_DRIVER.exists():
        found.append(f"vpcd driver {VPCD_DRIVER} missing (apt-get install vsmartcard-vpcd)")
    if not VPCD_CONF.exists():
        found.append(f"vpcd reader config {VPCD_CONF} missing (apt-get install vsmartcard-vpcd)")
    try:
        import smartcard  # noqa: F401
    except ImportError:
        found.append("pyscard is not installed (pip install 'pyscard==2.3.*'; "
                     "it builds with libpcsclite-dev and swig)")
    if os.geteuid() != 0 and not os.access(RUN_DIR if RUN_DIR.exists() else RUN_DIR.parent, os.W_OK):
        found.append(f"pcscd must create {RUN_DIR}: run as root")
    return found


def vpcd_port(conf: Path = VPCD_CONF) -> int:
    """The TCP port vpcd listens on for the first virtual card (CHANNELID of its reader.conf)."""
    try:
        match = re.search(r"^\s*CHANNELID\s+(\S+)", conf.read_text(), re.MULTILINE)
    except OSError:
        return DEFAULT_VPCD_PORT
    return int(match.group(1), 0) if match else DEFAULT_VPCD_PORT


def vpcd_slot(slot: int, conf: Path = VPCD_CONF) -> tuple[str, int]:
    """(reader name, TCP port) of one of vpcd's two slots: a card of `make run` (the README's walk-
    through) goes into slot 0, the card tests use slot 1, so a running demo is left alone."""
    return f"{READER_PREFIX} 00 {slot:02d}", vpcd_port(conf) + slot


def running_pid() -> int | None:
    """The pid of a live pcscd, from its pid file; None when none runs (a stale file is ignored)."""
    try:
        # pcsc-lite 1.9.9 writes the pid followed by a NUL byte.
        pid = int(PID_FILE.read_text().strip("\0 \n"))
    except (OSError, ValueError):
        return None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
    return None if state == "Z" else pid


def list_readers() -> list[str]:
    """Reader names through pyscard, or [] when pcscd does not answer."""
    try:
        from smartcard.System import readers
        return [str(r) for r in readers()]
    except Exception:
        return []


def wait_for_reader(prefix: str = READER_PREFIX, timeout: float = 10.0) -> str:
    """Wait until a reader whose name starts with `prefix` is listed; return its name."""
    deadline = time.monotonic() + timeout
    while True:
        names = [n for n in list_readers() if n.startswith(prefix)]
        if names:
            return sorted(names)[0]
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no reader named {prefix!r} within {timeout:.1f} s")
        time.sleep(0.02)


@dataclass
class Pcscd:
    """A pcscd we started (process set) or found running (owned False: stop() leaves it)."""
    pid: int
    process: subprocess.Popen | None
    reader: str
    startup_seconds: float

    @property
    def owned(self) -> bool:
        return self.process is not None

    def stop(self, timeout: float = 5.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # SIGTERM: pcscd removes /run/pcscd on the way out
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)


def start(timeout: float = 10.0, log_path: str | os.PathLike | None = None) -> Pcscd:
    """Make sure pcscd runs with the vpcd reader: reuse a running one, else start one in the
    foreground as our child (so the caller owns it and reaps it)."""
    missing = problems()
    if missing:
        raise RuntimeError("PC/SC chain incomplete: " + "; ".join(missing))
    began = time.monotonic()
    pid = running_pid()
    if pid is not None:
        return Pcscd(pid, None, wait_for_reader(timeout=timeout), time.monotonic() - began)
    _clear_stale_files()
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    try:
        process = subprocess.Popen(["pcscd", "--foreground"], stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        if log_path:
            log.close()
    try:
        reader = _wait_started(process, timeout)
    except BaseException:
        Pcscd(process.pid, process, "", 0).stop()
        raise
    return Pcscd(process.pid, process, reader, time.monotonic() - began)


def _clear_stale_files() -> None:
    # A pcscd killed with SIGKILL leaves its pid file and socket; if that pid is still a zombie,
    # a new pcscd takes it for a live daemon and exits ("Another pcscd seems to be running").
    if running_pid() is None:
        for leftover in (PID_FILE, RUN_DIR / "pcscd.comm"):
            leftover.unlink(missing_ok=True)


def _wait_started(process: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"pcscd exited with status {process.returncode} at start")
        try:
            return wait_for_reader(timeout=0)
        except TimeoutError:
            if time.monotonic() >= deadline:
                raise
        time.sleep(0.02)


def start_daemon(timeout: float = 10.0) -> Pcscd:
    """Start pcscd detached (for `make`/demos): it forks and survives this process."""
    missing = problems()
    if missing:
        raise RuntimeError("PC/SC chain incomplete: " + "; ".join(missing))
    began = time.monotonic()
    if running_pid() is None:
        _clear_stale_files()
        subprocess.run(["pcscd"], check=True)
    reader = wait_for_reader(timeout=timeout)
    return Pcscd(running_pid() or 0, None, reader, time.monotonic() - began)


def stop_daemon(timeout: float = 5.0) -> bool:
    """Stop the running pcscd, whoever started it; False when none ran."""
    pid = running_pid()
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while running_pid() == pid and time.monotonic() < deadline:
        time.sleep(0.05)
    if running_pid() == pid:
        os.kill(pid, signal.SIGKILL)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.pcsc", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["check", "start", "stop", "status"])
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args(argv)

    if args.command == "check":
        missing = problems()
        for line in missing:
            print(f"missing: {line}", file=sys.stderr)
        if not missing:
            print(f"PC/SC chain installed; vpcd port {vpcd_port()}")
        return 1 if missing else 0
    if args.command == "start":
        try:
            daemon = start_daemon(args.timeout)
        except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"pcscd {daemon.pid} ready in {daemon.startup_seconds:.2f} s; reader {daemon.reader!r}, "
              f"cards connect to vpcd on localhost:{vpcd_port()}")
        return 0
    if args.command == "stop":
        print("pcscd stopped" if stop_daemon(args.timeout) else "pcscd was not running")
        return 0
    pid = running_pid()
    if pid is None:
        print("pcscd not running")
        return 1
    print(f"pcscd {pid} running; readers: {', '.join(list_readers()) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

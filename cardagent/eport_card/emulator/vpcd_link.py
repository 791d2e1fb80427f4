"""The vpcd socket protocol, card side.

vpcd (the pcscd driver) listens; the card connects. Every message either way is a 2-byte
big-endian length and a payload. From vpcd, a 1-byte payload is a control code (below),
anything longer a C-APDU. The card answers GET_ATR with its ATR and a C-APDU with its R-APDU;
power and reset get no answer. Closing the connection is how the card leaves the reader.
"""
from __future__ import annotations

import logging

from .applet import EportApplet
from .native import original

socket = original("socket")
time = original("time")

log = logging.getLogger(__name__)

CTRL_POWER_OFF = 0x00
CTRL_POWER_ON = 0x01
CTRL_RESET = 0x02
CTRL_GET_ATR = 0x04

DEFAULT_HOST = "localhost"
DEFAULT_PORT = 35963


class LinkClosed(Exception):
    pass


def connect(host: str, port: int, timeout: float) -> socket.socket:
    """Connect to vpcd, retrying while pcscd is still starting."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=1.0)
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise ConnectionError(f"vpcd not reachable on {host}:{port}: {exc}") from None
            time.sleep(0.05)
            continue
        sock.settimeout(None)
        # Each exchange is one small message; Nagle would hold answers back.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


def serve(sock: socket.socket, applet: EportApplet, on_message=lambda: None) -> None:
    """Answer vpcd until the connection closes (card removed or pcscd gone)."""
    while True:
        payload = _receive(sock)
        on_message()
        if len(payload) == 1:
            code = payload[0]
            if code == CTRL_GET_ATR:
                _send(sock, applet.atr)
            elif code == CTRL_POWER_ON:
                applet.power_on()
            elif code == CTRL_POWER_OFF:
                applet.power_off()
            elif code == CTRL_RESET:
                applet.reset()
            else:
                log.warning("unknown vpcd control code %02X", code)
        elif payload:
            _send(sock, applet.process(payload))


def _receive(sock: socket.socket) -> bytes:
    length = int.from_bytes(_exactly(sock, 2), "big")
    return _exactly(sock, length)


def _exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        try:
            _ack_at_once(sock)
            chunk = sock.recv(n - len(buf))
        except OSError as exc:
            raise LinkClosed(str(exc)) from None
        if not chunk:
            raise LinkClosed("vpcd closed the connection")
        buf += chunk
    return bytes(buf)


def _ack_at_once(sock) -> None:
    # vpcd writes the length and the APDU in two send()s with Nagle on: the APDU waits for our
    # ACK of the length, which Linux delays ~40 ms. Quick-ACK mode is reset by the kernel, so
    # it is asked for before every read.
    quickack = getattr(socket, "TCP_QUICKACK", None)
    if quickack is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)
        except OSError:
            pass


def _send(sock: socket.socket, payload: bytes) -> None:
    try:
        sock.sendall(len(payload).to_bytes(2, "big") + payload)
    except OSError as exc:
        raise LinkClosed(str(exc)) from None

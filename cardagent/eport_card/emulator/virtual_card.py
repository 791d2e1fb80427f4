"""A virtual card in a background thread: insert() plugs it into vpcd, remove() pulls it."""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from ..cardimage import CardImage
from . import vpcd_link
from .applet import EportApplet
from .native import original

socket = original("socket")
threading = original("threading")

log = logging.getLogger(__name__)


class VirtualCard:
    def __init__(self, host: str = vpcd_link.DEFAULT_HOST, port: int = vpcd_link.DEFAULT_PORT):
        self.host, self.port = host, port
        self._sock = None
        self._thread = None
        self.applet: EportApplet | None = None
        self.image_path: Path | None = None
        self._heard = False

    @property
    def inserted(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def insert(self, image_path: str | os.PathLike, timeout: float = 10.0) -> None:
        """Load the card image, connect to vpcd and wait until the reader first polls the card.
        The PIN retry counter is written back to the image file as it changes."""
        if self.inserted:
            raise RuntimeError("a card is already inserted; remove() it first")
        path = Path(image_path)
        image = CardImage.load(path)
        self.applet = EportApplet(image, persist=lambda updated: updated.save(path))
        self.image_path = path
        deadline = time.monotonic() + timeout
        self._sock = vpcd_link.connect(self.host, self.port, timeout)
        self._heard = False
        self._thread = threading.Thread(target=self._run, args=(self._sock, self.applet),
                                        name=f"virtual-card-{image.card_no}", daemon=True)
        self._thread.start()
        # vpcd accepts one card per port; a second one is left in the listen backlog, connected
        # but never spoken to. Only the first poll proves the card is in the reader.
        while not self._heard:
            if not self.inserted:
                raise ConnectionError(f"vpcd on {self.host}:{self.port} dropped the card at once")
            if time.monotonic() > deadline:
                self.remove()
                raise ConnectionError(f"vpcd on {self.host}:{self.port} accepted the connection but "
                                      "never polled the card: is another card in that slot?")
            time.sleep(0.01)

    def _run(self, sock, applet: EportApplet) -> None:
        try:
            vpcd_link.serve(sock, applet, on_message=self._mark_heard)
        except vpcd_link.LinkClosed as exc:
            log.debug("card %s left the reader: %s", applet.image.card_no, exc)
        finally:
            sock.close()

    def _mark_heard(self) -> None:
        self._heard = True

    def remove(self, timeout: float = 5.0) -> None:
        """Disconnect from vpcd; pcscd sees the card removed at its next presence poll."""
        sock, thread = self._sock, self._thread
        self._sock = self._thread = None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if thread is not None:
            thread.join(timeout)

    def __enter__(self) -> VirtualCard:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

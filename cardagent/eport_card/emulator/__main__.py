"""Run a virtual card until interrupted; reconnect if pcscd restarts."""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from ..cardimage import CardImage, CardImageError
from . import vpcd_link
from .applet import EportApplet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="eport-card-emulator",
                                     description="Plug a virtual e-port card into pcscd's vpcd reader.")
    parser.add_argument("--image", required=True, help="card image JSON (eport-devca issue)")
    parser.add_argument("--host", default=vpcd_link.DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=vpcd_link.DEFAULT_PORT)
    parser.add_argument("--once", action="store_true", help="exit when vpcd drops the card")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")
    path = Path(args.image)
    try:
        image = CardImage.load(path)
    except (OSError, CardImageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    applet = EportApplet(image, persist=lambda updated: updated.save(path))
    try:
        while True:
            try:
                sock = vpcd_link.connect(args.host, args.port, timeout=3600)
            except ConnectionError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            logging.info("card %s inserted into vpcd at %s:%d", image.card_no, args.host, args.port)
            try:
                vpcd_link.serve(sock, applet)
            except vpcd_link.LinkClosed as exc:
                logging.info("vpcd dropped the card: %s", exc)
            finally:
                sock.close()
                applet.power_off()
            if args.once:
                return 0
            time.sleep(1)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())

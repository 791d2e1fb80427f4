"""A virtual e-port card plugged into pcscd through the vpcd driver.

    eport-card-emulator --image card.json  (or python -m eport_card.emulator) [--host localhost --port 35963]
"""
from .applet import EportApplet
from .virtual_card import VirtualCard

__all__ = ["EportApplet", "VirtualCard"]

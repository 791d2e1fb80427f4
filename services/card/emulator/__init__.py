"""A virtual e-port card plugged into pcscd through the vpcd driver.

    python -m services.card.emulator --image card.json [--host localhost --port 35963]
"""
from .applet import EportApplet
from .virtual_card import VirtualCard

__all__ = ["EportApplet", "VirtualCard"]

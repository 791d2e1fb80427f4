"""IC cards: binding and card login (server side), the PC/SC agent, the card emulator, the dev CA.

Kept empty on purpose: the server-side modules must import without pyscard.
"""

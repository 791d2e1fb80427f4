"""The event stores' compressor: zlib for the states that gain from it, the rest as they are.

zlib on every event cost more than the rest of storing it: deflate's set-up made 100 to 130 us of
compressing a state of 140 bytes (to 125), and 3 us of inflating it on every read (a replay or a
rebuild reads every event). A state under MIN_SIZE is kept as it is behind one RAW byte; a zlib
stream begins with 0x78, so every state written before (eventsourcing's ZlibCompressor) reads
the same. A store written by this class cannot be read by a version of the platform older than
it: roll back no further than the release that brought it.
"""
import zlib

from eventsourcing.persistence import Compressor

RAW = b"\x00"
MIN_SIZE = 1024  # bytes of JSON state


class SmallAsIs(Compressor):
    def compress(self, data: bytes) -> bytes:
        return RAW + data if len(data) < MIN_SIZE else zlib.compress(data)

    def decompress(self, data: bytes) -> bytes:
        return data[1:] if data[:1] == RAW else zlib.decompress(data)

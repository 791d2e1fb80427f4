"""The card's APDU vocabulary (see APDU.md), shared by the emulator and the agent."""
from __future__ import annotations

from dataclasses import dataclass

AID = bytes.fromhex("F045504F525401")  # proprietary RID F0 + "EPORT" + version 01

CLA = 0x00
INS_SELECT = 0xA4
INS_VERIFY = 0x20
INS_GET_DATA = 0xCA
INS_READ_BINARY = 0xB0
INS_INTERNAL_AUTHENTICATE = 0x88

P1_SELECT_BY_AID = 0x04
P2_SELECT_FIRST = 0x00
P2_SELECT_NO_FCI = 0x0C
P2_PIN_REFERENCE = 0x81
P1P2_CARD_INFO = 0x00C0

TAG_CARD_NO = 0x80
TAG_CARD_TYPE = 0x81
TAG_HOLDER_NAME = 0x82
TAG_CERTIFICATE_LENGTH = 0x83

MAX_READ_CHUNK = 240
MAX_CHALLENGE = 64
MAX_PIN_LENGTH = 16

SW_OK = 0x9000
SW_END_OF_FILE = 0x6282
SW_VERIFY_FAILED = 0x63C0  # low nibble = tries left
SW_WRONG_LENGTH = 0x6700
SW_AUTH_BLOCKED = 0x6983
SW_SECURITY_NOT_SATISFIED = 0x6982
SW_CONDITIONS_NOT_SATISFIED = 0x6985
SW_WRONG_DATA = 0x6A80
SW_FILE_NOT_FOUND = 0x6A82
SW_INCORRECT_P1P2 = 0x6A86
SW_DATA_NOT_FOUND = 0x6A88
SW_WRONG_OFFSET = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00
SW_UNKNOWN = 0x6F00


class MalformedApdu(ValueError):
    pass


@dataclass(frozen=True)
class Command:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None  # expected length Ne; 256 when the Le byte is 00

    @property
    def p1p2(self) -> int:
        return (self.p1 << 8) | self.p2


def parse_command(raw: bytes) -> Command:
    """Parse a short C-APDU (cases 1–4). Extended lengths are not supported by this card."""
    if len(raw) < 4:
        raise MalformedApdu("shorter than a header")
    cla, ins, p1, p2 = raw[:4]
    body = raw[4:]
    if not body:
        return Command(cla, ins, p1, p2)
    if len(body) == 1:
        return Command(cla, ins, p1, p2, le=body[0] or 256)
    lc = body[0]
    if lc == 0:
        raise MalformedApdu("extended length")
    if len(body) == 1 + lc:
        return Command(cla, ins, p1, p2, data=bytes(body[1:]))
    if len(body) == 2 + lc:
        return Command(cla, ins, p1, p2, data=bytes(body[1:1 + lc]), le=body[-1] or 256)
    raise MalformedApdu("Lc does not match the data")


def build_command(ins: int, p1: int = 0, p2: int = 0, data: bytes = b"", le: int | None = None,
                  cla: int = CLA) -> bytes:
    if len(data) > 255 or (le is not None and not 1 <= le <= 256):
        raise ValueError("short APDUs only")
    out = bytes([cla, ins, p1, p2])
    if data:
        out += bytes([len(data)]) + data
    if le is not None:
        out += bytes([le & 0xFF])
    return out


def response(sw: int, data: bytes = b"") -> bytes:
    return data + sw.to_bytes(2, "big")


def encode_tlv(items: list[tuple[int, bytes]]) -> bytes:
    out = bytearray()
    for tag, value in items:
        if len(value) > 0x7F:
            raise ValueError("TLV value too long for a one-byte length")
        out += bytes([tag, len(value)]) + value
    return bytes(out)


def decode_tlv(blob: bytes) -> dict[int, bytes]:
    items: dict[int, bytes] = {}
    i = 0
    while i < len(blob):
        if i + 2 > len(blob):
            raise ValueError("truncated TLV")
        tag, length = blob[i], blob[i + 1]
        if length > 0x7F or i + 2 + length > len(blob):
            raise ValueError("bad TLV length")
        items[tag] = blob[i + 2:i + 2 + length]
        i += 2 + length
    return items

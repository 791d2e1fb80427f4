"""The card's APDU behaviour, straight into the applet (the same thing through pcscd is in
tests/card)."""
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from eport_card import apdu, devca
from eport_card.emulator.applet import ATR, EportApplet
from services.card import certs

pytestmark = pytest.mark.unit

SELECT = apdu.build_command(apdu.INS_SELECT, 0x04, 0x0C, apdu.AID)


@pytest.fixture(scope="module")
def image():
    return devca.issue_card(devca.create_ca(), card_no="8800000012345", card_type="operator",
                            holder_name="张三", holder_id_number="11010519491231002X",
                            uscc="91350100M000100Y43", pin="123456", pin_hash_iterations=1000)


@pytest.fixture
def saved():
    return []


@pytest.fixture
def card(image, saved):
    applet = EportApplet(image, persist=saved.append)
    applet.power_on()
    return applet


def run(card, command: bytes) -> tuple[bytes, int]:
    out = card.process(command)
    return out[:-2], int.from_bytes(out[-2:], "big")


def verify(card, pin: bytes) -> int:
    return run(card, apdu.build_command(apdu.INS_VERIFY, 0x00, 0x81, pin))[1]


def test_atr_checksum_and_protocol():
    assert ATR[:4] == bytes.fromhex("3B858001") and ATR[4:9] == b"EPORT"
    tck = 0
    for b in ATR[1:]:
        tck ^= b
    assert tck == 0  # T=1 offered, so TCK makes the XOR of T0..TCK zero


def test_nothing_but_select_before_select(card):
    assert run(card, apdu.build_command(apdu.INS_GET_DATA, 0x00, 0xC0, le=256))[1] == 0x6985
    assert run(card, apdu.build_command(apdu.INS_SELECT, 0x04, 0x0C, b"\xA0\x00\x00\x00\x03"))[1] == 0x6A82
    assert run(card, SELECT)[1] == 0x9000


def test_card_info_and_whole_certificate(card, image):
    run(card, SELECT)
    data, sw = run(card, apdu.build_command(apdu.INS_GET_DATA, 0x00, 0xC0, le=256))
    fields = apdu.decode_tlv(data)
    assert sw == 0x9000
    assert fields[0x80] == b"8800000012345" and fields[0x81] == b"operator"
    assert fields[0x82].decode() == "张三"
    size = int.from_bytes(fields[0x83], "big")
    der, sws = b"", []
    while len(der) < size:
        chunk, sw = run(card, apdu.build_command(apdu.INS_READ_BINARY, len(der) >> 8, len(der) & 0xFF, le=256))
        assert len(chunk) <= 240
        der += chunk
        sws.append(sw)
    assert sws[-1] == 0x6282 and set(sws[:-1]) == {0x9000}
    pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode()
    assert pem == image.certificate_pem


def test_retry_counter_is_saved_before_the_answer(card, saved):
    run(card, SELECT)
    assert verify(card, b"000000") == 0x63C4
    assert [i.pin_tries_left for i in saved] == [4]
    assert verify(card, b"123456") == 0x9000
    # spent first, given back after the match: a card pulled mid-compare keeps the spent try
    assert [i.pin_tries_left for i in saved] == [4, 3, 5]
    assert card.image.pin_tries_left == 5


def test_blocking(card):
    run(card, SELECT)
    assert [verify(card, b"1") for _ in range(5)] == [0x63C4, 0x63C3, 0x63C2, 0x63C1, 0x63C0]
    assert verify(card, b"123456") == 0x6983
    assert run(card, apdu.build_command(apdu.INS_VERIFY, 0x00, 0x81))[1] == 0x6983
    assert card.image.pin_blocked


def test_blocked_image_stays_blocked(image):
    card = EportApplet(image.with_tries_left(0))
    run(card, SELECT)
    assert verify(card, b"123456") == 0x6983


def test_sign_needs_pin_in_this_session(card, image):
    run(card, SELECT)
    sign = apdu.build_command(apdu.INS_INTERNAL_AUTHENTICATE, 0, 0, b"n" * 64, le=256)
    assert run(card, sign)[1] == 0x6982
    assert run(card, apdu.build_command(apdu.INS_VERIFY, 0x00, 0x81))[1] == 0x63C5
    assert verify(card, b"123456") == 0x9000
    assert run(card, apdu.build_command(apdu.INS_VERIFY, 0x00, 0x81))[1] == 0x9000
    signature, sw = run(card, sign)
    assert sw == 0x9000 and certs.verify_signature(image.certificate_pem, b"n" * 64, signature)
    card.reset()
    run(card, SELECT)
    assert run(card, sign)[1] == 0x6982
    verify(card, b"123456")
    card.power_off()
    card.power_on()
    run(card, SELECT)
    assert run(card, sign)[1] == 0x6982


@pytest.mark.parametrize("command, sw", [
    (b"\x00\xA4", 0x6700),                                    # shorter than a header
    (b"\x00\xA4\x04\x00\x00\x00\x07" + apdu.AID, 0x6700),     # extended length
    (b"\x00\xA4\x04\x00\x09" + apdu.AID, 0x6700),             # Lc longer than the data
    (b"\xA0\xA4\x04\x00\x07" + apdu.AID, 0x6E00),             # CLA
    (b"\x00\xA4\x02\x00\x07" + apdu.AID, 0x6A86),             # select by file id
    (b"\x00\xA4\x04\x00", 0x6700),                            # no AID
    (b"\x00\xEE\x00\x00", 0x6D00),                            # unknown INS
])
def test_malformed_commands(card, command, sw):
    assert run(card, command)[1] == sw


def test_tlv_round_trip_and_limits():
    items = [(0x80, b"abc"), (0x81, b"")]
    assert apdu.decode_tlv(apdu.encode_tlv(items)) == dict(items)
    with pytest.raises(ValueError):
        apdu.decode_tlv(b"\x80\x05ab")
    with pytest.raises(ValueError):
        apdu.encode_tlv([(0x80, b"x" * 200)])
    with pytest.raises(ValueError):
        apdu.build_command(0xB0, le=0)

"""The card through the real chain: pyscard -> pcscd -> vpcd -> emulator, and back."""
import base64
import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization

from eport_card import apdu
from eport_card.agent import (CardNotFound, CardRemoved, PinBlocked, PinNotVerified, WrongPin,
                              find_card, list_readers, login)
from eport_card.cardimage import CardImage
from services.card import certs
from tests.json_http import JsonHandler, serving

from .conftest import CARD, card_present, wait_until

pytestmark = [pytest.mark.card, pytest.mark.timeout(120)]


def test_vpcd_reader_is_listed(pcscd):
    assert any(name.startswith("Virtual PCD") for name in list_readers())


def test_card_is_seen_and_selected(insert, card_image, vpcd_reader):
    seconds = insert(card_image)
    assert seconds < 2.0
    with find_card(timeout=2) as session:
        assert session.reader == vpcd_reader[0] == "Virtual PCD 00 01"
        data, sw = session.transmit(apdu.build_command(apdu.INS_SELECT, 0x04, 0x00, apdu.AID, le=256))
        assert sw == 0x9000
        assert data == bytes([0x6F, 9, 0x84, 7]) + apdu.AID


def test_read_info_and_certificate(session, card_image):
    image = CardImage.load(card_image)
    info = session.read_info()
    assert (info.card_no, info.card_type, info.holder_name) == (CARD["card_no"], "operator", "张三")
    pem = session.read_certificate()
    assert pem == image.certificate_pem
    assert info.certificate_length > apdu.MAX_READ_CHUNK  # so it really took several READ BINARYs


def test_status_words_for_bad_commands(session):
    def sw(command):
        return session.transmit(command)[1]

    assert sw(bytes([0x80, apdu.INS_GET_DATA, 0x00, 0xC0, 0x00])) == 0x6E00
    assert sw(apdu.build_command(0x12, 0, 0)) == 0x6D00
    assert sw(apdu.build_command(apdu.INS_GET_DATA, 0x01, 0x01, le=256)) == 0x6A88
    assert sw(apdu.build_command(apdu.INS_VERIFY, 0x00, 0x01, b"123456")) == 0x6A86
    assert sw(apdu.build_command(apdu.INS_VERIFY, 0x00, 0x81, b"1" * 17)) == 0x6700
    assert sw(apdu.build_command(apdu.INS_READ_BINARY, 0x7F, 0x00, le=16)) == 0x6B00
    assert sw(apdu.build_command(apdu.INS_READ_BINARY, 0x00, 0x00)) == 0x6700
    assert sw(apdu.build_command(apdu.INS_INTERNAL_AUTHENTICATE, 0, 0, b"x" * 65, le=256)) == 0x6700
    assert sw(bytes([0x00, apdu.INS_VERIFY, 0x00, 0x81, 0x05, 0x31])) == 0x6700  # Lc lies
    assert sw(apdu.build_command(apdu.INS_SELECT, 0x04, 0x00, b"\xA0\x00\x00\x00\x03")) == 0x6A82
    # another applet is selected now: ours answers nothing but SELECT
    assert sw(apdu.build_command(apdu.INS_GET_DATA, 0x00, 0xC0, le=256)) == 0x6985


def test_last_certificate_chunk_ends_with_6282(session):
    size = session.read_info().certificate_length
    offset = size - 10
    data, sw = session.transmit(apdu.build_command(apdu.INS_READ_BINARY, offset >> 8, offset & 0xFF, le=240))
    assert (len(data), sw) == (10, 0x6282)


def test_wrong_then_right_pin(session, card_image):
    with pytest.raises(WrongPin) as wrong:
        session.verify_pin("000000")
    assert (wrong.value.tries_left, wrong.value.sw) == (4, 0x63C4)
    assert CardImage.load(card_image).pin_tries_left == 4
    assert session.pin_tries_left() == 4
    session.verify_pin("123456")
    assert CardImage.load(card_image).pin_tries_left == 5


def test_pin_blocks_after_five_wrong_and_stays_blocked(session, card_image, virtual_card, insert):
    for tries_left in (4, 3, 2, 1):
        with pytest.raises(WrongPin) as wrong:
            session.verify_pin("999999")
        assert wrong.value.sw == 0x63C0 | tries_left
    with pytest.raises(PinBlocked) as fifth:
        session.verify_pin("999999")
    assert fifth.value.sw == 0x63C0
    with pytest.raises(PinBlocked) as right_but_late:
        session.verify_pin("123456")
    assert right_but_late.value.sw == 0x6983
    with pytest.raises(PinNotVerified):
        session.sign(b"nonce")
    assert CardImage.load(card_image).pin_tries_left == 0

    # Out of the reader and back in: the counter came from the card image file.
    session.close()
    virtual_card.remove()
    wait_until(lambda: not card_present(session.reader), 5, "card removal")
    insert(card_image)
    with find_card(timeout=2) as again:
        assert again.pin_tries_left() == 0
        with pytest.raises(PinBlocked) as blocked:
            again.verify_pin("123456")
        assert blocked.value.sw == 0x6983


def test_sign_only_after_pin_and_signature_verifies(session, card_image):
    challenge = os.urandom(32)
    with pytest.raises(PinNotVerified) as refused:
        session.sign(challenge)
    assert refused.value.sw == 0x6982
    session.verify_pin("123456")
    signature = session.sign(challenge)
    cert_pem = session.read_certificate()
    assert certs.verify_signature(cert_pem, challenge, signature)
    assert not certs.verify_signature(cert_pem, os.urandom(32), signature)
    assert certs.verify_signature(cert_pem, b"\x01" * 64, session.sign(b"\x01" * 64))


def test_pin_state_ends_with_reselect_and_with_the_session(session, card_image):
    session.verify_pin("123456")
    session.sign(b"fine")
    session.transmit(apdu.build_command(apdu.INS_SELECT, 0x04, 0x0C, apdu.AID))
    with pytest.raises(PinNotVerified):
        session.sign(b"after re-select")
    session.verify_pin("123456")
    session.close()  # disconnects with a card reset
    with find_card(timeout=2) as next_session:
        with pytest.raises(PinNotVerified):
            next_session.sign(b"new session")


def test_certificate_chain_against_dev_ca_and_another(session, dev_ca, other_ca, now):
    cert_pem = session.read_certificate()
    info = certs.verify_chain(cert_pem, dev_ca.cert_pem, now)
    assert (info.card_no, info.card_type, info.holder_name, info.holder_id_number, info.uscc) == (
        CARD["card_no"], "operator", "张三", CARD["holder_id_number"], CARD["uscc"])
    with pytest.raises(certs.CertificateUntrusted):
        certs.verify_chain(cert_pem, other_ca.cert_pem, now)


def test_card_from_another_ca_is_untrusted(issue, insert, dev_ca, other_ca, now):
    insert(issue(ca=other_ca))
    with find_card(timeout=2) as session:
        with pytest.raises(certs.CertificateUntrusted):
            certs.verify_chain(session.read_certificate(), dev_ca.cert_pem, now)


def test_expired_certificate_is_refused(issue, insert, dev_ca, now):
    insert(issue(not_before=now - timedelta(days=800), not_after=now - timedelta(days=1)))
    with find_card(timeout=2) as session:
        cert_pem = session.read_certificate()
        session.verify_pin("123456")  # the card itself still works; the verifier refuses it
        assert certs.verify_signature(cert_pem, b"n", session.sign(b"n"))
    with pytest.raises(certs.CertificateExpired):
        certs.verify_chain(cert_pem, dev_ca.cert_pem, now)


def test_card_removal_is_detected(session, virtual_card):
    session.read_info()
    virtual_card.remove()
    with pytest.raises(CardRemoved):
        session.read_info()
    seconds = wait_until(lambda: not card_present(session.reader), 5, "pcscd to see the removal")
    assert seconds < 2.0
    session.close()  # our exclusive handle on the gone card would read as "busy"
    with pytest.raises(CardNotFound):
        find_card(timeout=0)


def test_private_key_never_leaves_the_card(session, card_image):
    image = CardImage.load(card_image)
    key = serialization.load_pem_private_key(image.private_key_pem.encode(), password=None)
    secret = key.private_numbers().private_value.to_bytes(32, "big")
    session.verify_pin("123456")
    seen = bytearray()
    for ins in range(256):
        if ins in (apdu.INS_SELECT, apdu.INS_VERIFY):
            continue  # SELECT elsewhere would deselect, VERIFY would spend tries
        for p1, p2 in ((0x00, 0x00), (0x00, 0xC0), (0x01, 0x00), (0x00, 0x81)):
            data, _ = session.transmit(apdu.build_command(ins, p1, p2, le=256))
            seen += data
    assert secret not in seen
    assert b"PRIVATE KEY" not in seen


def test_find_card_waits_for_insertion(virtual_card, card_image):
    timer = threading.Timer(0.3, virtual_card.insert, args=(card_image,))
    timer.start()
    try:
        with find_card(timeout=5) as session:
            assert session.read_info().card_no == CARD["card_no"]
    finally:
        timer.join()


def test_emulator_and_agent_command_lines(card_image, vpcd_reader):
    reader, port = vpcd_reader
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    emulator = subprocess.Popen([sys.executable, "-m", "eport_card.emulator", "--image",
                                 str(card_image), "--port", str(port), "--once"], env=env)
    try:
        wait_until(lambda: card_present(reader), 10, "the emulator process's card")
        out = subprocess.run([sys.executable, "-m", "eport_card.agent", "info"], env=env,
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        shown = json.loads(out.stdout)
        assert (shown["card_no"], shown["uscc"], shown["pin_tries_left"]) == (
            CARD["card_no"], CARD["uscc"], 5)
        readers = subprocess.run([sys.executable, "-m", "eport_card.agent", "readers"], env=env,
                                 capture_output=True, text=True, timeout=30)
        assert f"{reader}: e-port card {CARD['card_no']}" in readers.stdout
    finally:
        emulator.terminate()
        emulator.wait(10)
    wait_until(lambda: not card_present(reader), 5, "the card to leave with its process")


def test_login_with_the_card_in_the_reader(session, dev_ca, now, tmp_path):
    """The agent's login flow with the real card against a stand-in gateway that checks it the
    way the card service will: chain to the dev CA, then the signature over its own nonce. Then
    its command line, the PIN read from --pin-file (no terminal to ask on, no $CARD_PIN)."""
    session.close()  # login() finds the card itself
    nonces = {}

    class Gateway(JsonHandler):
        def do_POST(self):
            body = self.json_body()
            if self.path == "/api/v1/card-challenges":
                nonces["c1"] = os.urandom(32)
                self.answer(201, {"challenge_id": "c1", "nonce": base64.b64encode(nonces["c1"]).decode(),
                                  "expires_in": 60})
            elif self.path == "/api/v1/sessions":
                info = certs.verify_chain(body["certificate"], dev_ca.cert_pem, now)
                ok = certs.verify_signature(body["certificate"], nonces[body["challenge_id"]],
                                            base64.b64decode(body["signature"]))
                if ok and body["method"] == "card":
                    self.answer(201, {"access_token": "t-" + info.card_no, "token_type": "Bearer",
                                      "expires_in": 3600, "user_id": "u1"})
                else:
                    self.answer(401, {"error": {"code": "INVALID_CREDENTIALS", "message": "no", "details": {}}})

    with serving(Gateway) as url:
        began = time.monotonic()
        result = login(url, "123456")
        assert result["access_token"] == "t-" + CARD["card_no"]
        assert time.monotonic() - began < 5
        (tmp_path / "pin").write_text(CARD["pin"] + "\n")
        env = {k: v for k, v in os.environ.items() if k != "CARD_PIN"}
        out = subprocess.run([sys.executable, "-m", "eport_card.agent", "login", "--gateway", url,
                              "--pin-file", str(tmp_path / "pin")], env=env, stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["access_token"] == "t-" + CARD["card_no"]


def test_second_card_in_the_same_slot_is_refused(session, issue, vpcd_reader):
    from eport_card.emulator import VirtualCard
    _, port = vpcd_reader
    second = VirtualCard(port=port)
    with pytest.raises(ConnectionError, match="another card"):
        second.insert(issue("second.json", card_no="8800000099999"), timeout=1.5)
    assert not second.inserted
    assert session.read_info().card_no == CARD["card_no"]


def test_a_card_in_the_developers_slot_is_left_alone(session, issue, vpcd_reader):
    """`make run`'s card (the README's walk-through) sits in vpcd's first slot: the tests' agent
    finds its own card in the second one, and the other card stays where it is."""
    from deploy.pcsc import vpcd_slot
    from eport_card.emulator import VirtualCard
    session.close()
    demo_reader, demo_port = vpcd_slot(0)
    demo = VirtualCard(port=demo_port)
    try:
        demo.insert(issue("demo.json", card_no="8800000077777"), timeout=2)
    except ConnectionError:
        pytest.skip(f"{demo_reader} is in use already (a developer's card: the case itself)")
    try:
        wait_until(lambda: card_present(demo_reader), 5, "pcscd to see the demo card")
        with find_card(timeout=2) as ours:
            assert (ours.reader, ours.read_info().card_no) == (vpcd_reader[0], CARD["card_no"])
        assert card_present(demo_reader)
    finally:
        demo.remove()
    wait_until(lambda: not card_present(demo_reader), 5, "the demo card to leave")

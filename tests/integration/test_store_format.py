"""The bytes of a stored event (services/common/cipher.py, compression.py) on a real SQLite store:
stores written before read the same, small states go uncompressed and large ones compressed, and
every state is encrypted whatever its size."""
import uuid
import zlib

import pytest
from eventsourcing.domain import Aggregate, event

from services.common.application import ServiceApplication
from services.common.compression import MIN_SIZE, RAW

pytestmark = pytest.mark.integration

LIBRARY_FORMAT = {"COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor",
                  "CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher"}


class Memo(Aggregate):
    @event("Written")
    def __init__(self, text):
        self.text = text


class Store(ServiceApplication):
    service_name = "storeformat"


def texts(app, ids):
    return [app.repository.get(i).text for i in ids]


def test_a_store_written_in_the_librarys_format_reads_the_same(fresh_var):
    before = Store(env=LIBRARY_FORMAT)
    memos = [Memo("备忘一则"), Memo("x" * 5000)]
    before.save(*memos)
    now = Store()
    assert texts(now, [m.id for m in memos]) == [m.text for m in memos]
    now.save(Memo("written now"))  # and the two formats live side by side in one store
    assert len(now.recorder.select_notifications(start=1, limit=10)) == 3


def test_small_states_are_stored_as_they_are_large_ones_compressed_all_of_them_encrypted(fresh_var):
    app = Store()
    marker = f"marker-{uuid.uuid4().hex}"
    small, large = Memo(marker), Memo(marker + "y" * (2 * MIN_SIZE))
    app.save(small, large)
    by_id = {n.originator_id: n.state for n in app.recorder.select_notifications(start=1, limit=10)}
    opened = {i: app.mapper.cipher.decrypt(state) for i, state in by_id.items()}
    assert opened[small.id].startswith(RAW) and marker.encode() in opened[small.id]
    assert b"y" * (2 * MIN_SIZE) in zlib.decompress(opened[large.id])
    raw_file = b"".join(p.read_bytes() for p in fresh_var.glob("storeformat.db*"))
    assert marker.encode() not in raw_file and b"yyyyyyyy" not in raw_file
    assert texts(Store(), [small.id, large.id]) == [small.text, large.text]


def test_a_tampered_or_cut_state_is_refused_not_read(fresh_var):
    """services/common/cipher.py checks each state's tag: a changed byte or a state cut short is an
    error, never a different event."""
    app = Store()
    cipher = app.mapper.cipher
    sealed = cipher.encrypt(b'{"text": "original"}')
    assert cipher.decrypt(sealed) == b'{"text": "original"}'
    for forged in (sealed[:-1] + bytes([sealed[-1] ^ 1]), sealed[:12] + bytes([sealed[12] ^ 1]) + sealed[13:],
                   sealed[:20]):
        with pytest.raises(ValueError):
            cipher.decrypt(forged)
    assert cipher.encrypt(b"same") != cipher.encrypt(b"same")  # a fresh nonce each time

"""The card image file: everything a (virtual) e-port card holds, as JSON.

{
  "format": "eport-card-image/1",
  "card_no", "card_type", "holder_name", "holder_id_number", "uscc",
  "private_key_pem":  the card's ECDSA P-256 key (PKCS#8 PEM; never leaves the card),
  "certificate_pem":  its certificate from the CA (see certificate.py for the subject layout),
  "pin": {"algorithm": "pbkdf2-sha256", "iterations", "salt", "hash"}  (base64),
  "pin_tries_left", "pin_max_tries"
}
The PIN is stored hashed so the file does not show it; a 6-digit PIN can still be found by
brute force from the file, which is fine for a development card and is why real cards keep
it in tamper-resistant hardware instead.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .certificate import CARD_TYPES

FORMAT = "eport-card-image/1"
PIN_MAX_TRIES = 5
PIN_HASH_ITERATIONS = 100_000
PIN_MIN_LENGTH, PIN_MAX_LENGTH = 4, 16


class CardImageError(ValueError):
    pass


def hash_pin(pin: str, *, iterations: int = PIN_HASH_ITERATIONS, salt: bytes | None = None) -> dict:
    check_pin_format(pin)
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode("ascii"), salt, iterations)
    return {
        "algorithm": "pbkdf2-sha256",
        "iterations": iterations,
        "salt": base64.b64encode(salt).decode("ascii"),
        "hash": base64.b64encode(digest).decode("ascii"),
    }


def pin_matches(pin_hash: dict, candidate: bytes) -> bool:
    if pin_hash.get("algorithm") != "pbkdf2-sha256":
        raise CardImageError(f"unknown PIN hash algorithm {pin_hash.get('algorithm')!r}")
    salt = base64.b64decode(pin_hash["salt"])
    expected = base64.b64decode(pin_hash["hash"])
    digest = hashlib.pbkdf2_hmac("sha256", bytes(candidate), salt, int(pin_hash["iterations"]))
    return hmac.compare_digest(digest, expected)


def check_pin_format(pin: str) -> None:
    if not (pin.isascii() and pin.isdigit() and PIN_MIN_LENGTH <= len(pin) <= PIN_MAX_LENGTH):
        raise CardImageError(f"PIN must be {PIN_MIN_LENGTH}–{PIN_MAX_LENGTH} digits")


@dataclass(frozen=True)
class CardImage:
    card_no: str
    card_type: str
    holder_name: str
    holder_id_number: str
    uscc: str
    private_key_pem: str
    certificate_pem: str
    pin: dict
    pin_tries_left: int = PIN_MAX_TRIES
    pin_max_tries: int = PIN_MAX_TRIES
    format: str = FORMAT

    def __post_init__(self) -> None:
        if self.format != FORMAT:
            raise CardImageError(f"unsupported card image format {self.format!r}")
        if self.card_type not in CARD_TYPES:
            raise CardImageError(f"card_type must be one of {CARD_TYPES}")
        if not self.card_no or not self.card_no.isascii() or len(self.card_no) > 64:
            raise CardImageError("card_no must be 1–64 ASCII characters")
        if not 0 <= self.pin_tries_left <= self.pin_max_tries <= 15:
            raise CardImageError("PIN retry counter out of range")

    @property
    def pin_blocked(self) -> bool:
        return self.pin_tries_left == 0

    def with_tries_left(self, tries_left: int) -> CardImage:
        return replace(self, pin_tries_left=tries_left)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> CardImage:
        try:
            raw = json.loads(text)
            return cls(**raw)
        except (json.JSONDecodeError, TypeError) as exc:
            raise CardImageError(f"not a card image: {exc}") from None

    def save(self, path: str | os.PathLike) -> None:
        save_atomically(Path(path), self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike) -> CardImage:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


def save_atomically(path: Path, text: str, mode: int = 0o600) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a card image."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent or ".")
    os.close(fd)  # reopened with the builtin open: eventlet's green os.fdopen is no file
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

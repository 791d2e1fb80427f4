"""What a secret must be outside development: present, not a placeholder, long and random enough,
and not the same as another secret. Each refusal names the secret and says why (never its value).

- HMAC keys (EPORT_INDEX_KEY): hex or strict base64 of at least 32 random bytes;
- the event-store cipher key (EPORT_CIPHER_KEY): strict base64 of 16, 24 or 32 random bytes (AES);
- the per-person keys' wrapping key (EPORT_PII_KEK): strict base64 of 32 random bytes (AES-256);
- a service's event-signing key (EPORT_EVENT_KEY): strict base64 of a 32-byte Ed25519 seed.
"""
import base64
import binascii
import re

MIN_HMAC_BYTES = 32
AES_KEY_BYTES = (16, 24, 32)
SEED_BYTES = {"EPORT_EVENT_KEY": 32}  # Ed25519 seeds
AES_KEYS = {"EPORT_CIPHER_KEY": AES_KEY_BYTES, "EPORT_PII_KEK": (32,)}
# keys that may list several, comma-separated, while rotating: the first is used, each still opens
ROTATED = ("EPORT_CIPHER_KEY", "EPORT_PII_KEK")
# what the examples and the usual templates say instead of a value
PLACEHOLDER = re.compile(r"replace|change-?me|example|placeholder|<[^>]*>|\.\.\.", re.IGNORECASE)
GENERATE = 'python -c "import secrets,base64; print(base64.b64encode(secrets.token_bytes(32)).decode())"'


class StartRefused(RuntimeError):
    """A configuration not fit to run on: the service does not start, and says why."""


class SecretRefused(StartRefused):
    """The service refuses to start: `name` is missing or unfit (`reason`)."""

    def __init__(self, name, reason):
        self.name, self.reason = name, reason
        super().__init__(f"{name} refused: {reason}. Outside EPORT_ENV=development every secret must be set "
                         f"to its own random value (e.g. {GENERATE}).")


def _strict_base64(value):
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _hmac_key_bytes(value):
    if re.fullmatch(r"(?:[0-9a-fA-F]{2})+", value):
        return bytes.fromhex(value)
    return _strict_base64(value)


def _looks_random(raw):
    # 32 random bytes have about 30 distinct values; "0000…" or "abab…" have one or two
    return len(set(raw)) >= min(len(raw) // 2, 12)


def key_bytes(name, value):
    """The decoded key material of secret `name`, or SecretRefused saying what is wrong with it."""
    if not value:
        raise SecretRefused(name, "it is not set")
    if PLACEHOLDER.search(value):
        raise SecretRefused(name, "it is a placeholder, not a key")
    if name in AES_KEYS:
        raw = _strict_base64(value)
        if raw is None:
            raise SecretRefused(name, "it is not strict base64")
        if len(raw) not in AES_KEYS[name]:
            sizes = [str(n) for n in AES_KEYS[name]]
            raise SecretRefused(name, f"it decodes to {len(raw)} bytes; an AES key has "
                                      f"{' or '.join([', '.join(sizes[:-1]), sizes[-1]] if sizes[:-1] else sizes)}")
    elif name in SEED_BYTES:
        raw = _strict_base64(value)
        if raw is None or len(raw) != SEED_BYTES[name]:
            raise SecretRefused(name, f"it is not strict base64 of {SEED_BYTES[name]} bytes")
    else:
        raw = _hmac_key_bytes(value)
        if raw is None:
            raise SecretRefused(name, "it is neither hex nor strict base64")
        if len(raw) < MIN_HMAC_BYTES:
            raise SecretRefused(name, f"it holds {len(raw)} bytes; at least {MIN_HMAC_BYTES} random bytes are needed")
    if not _looks_random(raw):
        raise SecretRefused(name, "its bytes repeat too much to be random")
    return raw


def check_secret(name, values):
    """Checks secret `name` among all configured `values` (name -> value or None); its key bytes.
    The store key and the KEK may list several, comma-separated (a rotation: services/common/cipher.py,
    person_keys.py): each is checked, and the first's bytes are answered."""
    value = values.get(name)
    if name in ROTATED and value and "," in value:
        keys = [k.strip() for k in value.split(",")]
        if len(set(keys)) != len(keys):
            raise SecretRefused(name, "it lists the same key twice")
        for key in reversed(keys):  # the first's last: its bytes are the answer
            raw = check_secret(name, {**values, name: key})
        return raw
    raw = key_bytes(name, value)
    for other, value in values.items():
        if other != name and value and (value == values[name] or _hmac_key_bytes(value) == raw
                                        or _strict_base64(value) == raw):
            raise SecretRefused(name, f"it is the same key as {other}; every secret needs its own")
    return raw

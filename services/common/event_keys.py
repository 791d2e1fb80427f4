"""Whose events a process may sign, and the published keys it verifies events with
(contracts/signatures.py says what is signed and how).

- EPORT_EVENT_KEY (secret): the signing key of the one service a process runs, base64 of a 32-byte
  Ed25519 seed; a process that publishes refuses to start without it, or when it is not the key
  EPORT_EVENT_KEYS publishes for its service.
- EPORT_EVENT_KEYS: the file of the published key set (a JWK set, `python -m deploy.event_keys`
  makes both); every consumer, and the gateway that serves it, refuses to start without it.

With EPORT_ENV=development (`make run`, the tests), where several services share one process and
one environment, each source's key derives from one seed generated once into
var/dev-event-keys.json, so that every process of the platform, and its restarts, agree.
"""
import base64
import hashlib
import hmac
import json
import secrets
import threading
from pathlib import Path

from contracts.signatures import KeySet, Signer, private_key_of, public_jwk

from .correlation import with_correlation
from .secret_rules import SecretRefused, check_secret
from .settings import created_once, development, secret_values, setting, var_dir

SIGNING_KEY = "EPORT_EVENT_KEY"
KEY_SET = "EPORT_EVENT_KEYS"
PUBLISHERS = ("identity", "enterprise", "card", "authz", "sso")  # the sources of contracts/, whose keys are published

_lock = threading.RLock()  # a key set is made while a signer is being made
_cache = {}


def _configuration():
    """What the keys depend on: a test or the launcher changes it through the environment."""
    return development(), str(var_dir()), setting(SIGNING_KEY), setting(KEY_SET)


def _cached(kind, make):
    key = (kind, *_configuration())
    with _lock:
        if key not in _cache:
            _cache[key] = make()
        return _cache[key]


def _dev_master():
    text = created_once(var_dir() / "dev-event-keys.json",
                        lambda: json.dumps({"seed": base64.b64encode(secrets.token_bytes(32)).decode()}))
    return base64.b64decode(json.loads(text)["seed"])


def _dev_seed(source):
    master = _cached(("dev-master",), _dev_master)
    return hmac.new(master, f"eport-event-key:{source}".encode(), hashlib.sha256).digest()


def signer(source):
    """The Signer of `source`'s envelopes; SecretRefused when this process holds no key for it."""
    return _cached(("signer", source), lambda: _make_signer(source))


def _make_signer(source):
    if development():
        return Signer(source, private_key_of(_dev_seed(source)))
    values = secret_values()
    raw = check_secret(SIGNING_KEY, values)
    made = Signer(source, private_key_of(raw))
    published = key_set().keys.get(made.jwk["kid"])
    if published is None or published[0] != source:
        raise SecretRefused(SIGNING_KEY, f"it is not the key {KEY_SET} publishes for {source}")
    return made


def key_set():
    """The published keys (a KeySet); SecretRefused outside development when there are none."""
    return _cached(("keys",), _make_key_set)


def _make_key_set():
    if development():
        return KeySet({"keys": [public_jwk(s, private_key_of(_dev_seed(s)).public_key()) for s in PUBLISHERS]})
    path = setting(KEY_SET)
    if not path:
        raise SecretRefused(KEY_SET, "it is not set: name the file of the published event keys "
                                     "(python -m deploy.event_keys generate)")
    try:
        return KeySet(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise SecretRefused(KEY_SET, f"{path} is not a key set of event keys ({exc})") from None


def signed(envelope):
    """The envelope signed by its source's key."""
    return signer(envelope["source"]).sign(envelope)


def as_published(envelope, domain_event):
    """An envelope as it leaves its service, on the bus or in `ops_events`: with the correlation id
    its domain event was stored with, signed by its source."""
    return signed(with_correlation(envelope, domain_event))


def _keys_for(source):
    """The published keys; in development, with a source of the tests' own (not one of PUBLISHERS)
    and its derived key too."""
    keys = key_set()
    if development() and source not in PUBLISHERS and isinstance(source, str):
        keys = _cached(("dev-keys", source), lambda: KeySet({"keys": keys.document["keys"] + [signer(source).jwk]}))
    return keys


def verified(envelope, source=None):
    """The envelope, when its source's published key verifies it; OriginNotProven otherwise."""
    return _keys_for(envelope.get("source")).verify(envelope, source)


def kids_of(source):
    """The ids of the keys published for `source`."""
    return _cached(("kids", source), lambda: frozenset(
        kid for kid, (of, _) in _keys_for(source).keys.items() if of == source))


def window_signed(source, request, window, digest=False):
    """The signature of `source` over `window` (bytes), or its SHA-256 with `digest`, answering
    `request` (contracts/signatures.py)."""
    return signer(source).sign_window(request, window, digest)


def window_verified(source, request, window, signature):
    """`window`, when a key published for `source` signed it as the answer to `request`;
    OriginNotProven otherwise."""
    return _keys_for(source).verify_window(source, request, window, signature)

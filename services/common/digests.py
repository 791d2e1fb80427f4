"""Keyed digests (HMAC-SHA256 with EPORT_INDEX_KEY) of values that must not be stored in clear or
be guessable from what is stored: identity's index keys of ID numbers and mobiles, SMS codes, setup
tokens; the fingerprints of command arguments (services/common/commands.py); the name of the SMS
outbox's key of a mobile (services/notify/outbox_seal.py). A bare hash would not do: there are only
10^6 SMS codes and about 10^11 mobiles."""
import hashlib
import hmac

from .settings import secret


def index_digest(text, key=None):
    """HMAC-SHA256 of `text`, hex, keyed with `key` (default: EPORT_INDEX_KEY)."""
    key = secret("EPORT_INDEX_KEY") if key is None else key
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


class Digests:
    def __init__(self, key):
        self._key = key.encode() if isinstance(key, str) else key

    def of(self, kind, *parts):
        return index_digest("\x1f".join((kind, *parts)), self._key)

    def id_number(self, value):
        return self.of("id_number", value)

    def mobile(self, value):
        return self.of("mobile", value)

    def card_no(self, value):
        """The card index ids (services/card/domain.py): card numbers are fewer still than mobiles."""
        return self.of("card_no", value)

    def sms_code(self, mobile_digest, purpose, code):
        return self.of("sms_code", mobile_digest, purpose, code)

    def sms_code_of(self, seed, command_id):
        """The 6-digit SMS code that `seed` (random, stored with the code's digest) gives the command
        `command_id` that asked for it: its retry hands the same code again (sms_codes.py). Knowing
        it takes this key and the store's stored seed, as guessing the code from its digest does."""
        return f"{int(self.of('sms_code_seed', seed, command_id or ''), 16) % 10 ** 6:06d}"

    def client(self, address):
        """Who asked, kept per mobile (sms_clients.py): 64 bits of the keyed digest, not the address."""
        return self.of("client", address)[:16]

    def setup_token(self, token):
        return self.of("password_setup_token", token)

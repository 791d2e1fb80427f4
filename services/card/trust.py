"""Which CA the card service trusts, and how long a challenge lives: read from the environment.

    CARD_CA_CERT=/path/ca-cert.pem   the e-port card CA (PEM). Unset, with EPORT_ENV=development
                                     only: a development CA under
                                     $EPORT_VAR/card-ca, created on first use, which
                                     `python -m services.card.devca issue --ca var/card-ca ...`
                                     issues cards from.
    CARD_CHALLENGE_TTL=120           seconds a card challenge stays valid.
"""
import logging
import os
import shutil
import tempfile
from pathlib import Path

from services.common.settings import StartRefused, development, var_dir

from .devca import CA_CERT_FILE, CA_KEY_FILE, create_ca, save_ca

log = logging.getLogger(__name__)

DEV_CA_DIRNAME = "card-ca"
DEFAULT_CHALLENGE_TTL = 120


def challenge_ttl():
    raw = os.environ.get("CARD_CHALLENGE_TTL", "")
    if not raw.strip():
        return DEFAULT_CHALLENGE_TTL
    ttl = int(raw)
    if not 1 <= ttl <= 3600:
        raise ValueError(f"CARD_CHALLENGE_TTL={raw!r}: expected 1 to 3600 seconds")
    return ttl


def default_ca_dir():
    return var_dir() / DEV_CA_DIRNAME


def ensure_dev_ca(directory=None):
    """The directory of the development CA, created if missing. Safe when several processes (the
    card service, a test, the issuing command) race: the CA is made in a temporary directory and
    renamed into place, so everybody ends up with the one that got there first."""
    directory = Path(directory or default_ca_dir())
    if (directory / CA_CERT_FILE).exists():
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        save_ca(create_ca(), staging)
        os.rename(staging, directory)  # atomic; fails if another process created it first
        log.warning("created a development card CA in %s (set CARD_CA_CERT in production)", directory)
    except OSError:
        if not (directory / CA_CERT_FILE).exists():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


class TrustAnchor:
    """The CA certificate (PEM) card certificates must chain to; re-read when its file changes."""

    def __init__(self, path):
        self.path = Path(path)
        self._pem, self._mtime = None, None
        self.pem()  # a missing or unreadable CA stops the service at start, not at the first login

    @classmethod
    def from_env(cls):
        configured = os.environ.get("CARD_CA_CERT", "").strip()
        if configured:
            return cls(configured)
        if not development():
            raise StartRefused("CARD_CA_CERT is not set: name the e-port card CA's certificate (PEM); a "
                               "development CA is made only with EPORT_ENV=development")
        return cls(ensure_dev_ca() / CA_CERT_FILE)

    def pem(self):
        mtime = self.path.stat().st_mtime_ns
        if mtime != self._mtime:
            self._pem, self._mtime = self.path.read_text(encoding="ascii"), mtime
        return self._pem


__all__ = ["CA_CERT_FILE", "CA_KEY_FILE", "TrustAnchor", "challenge_ttl", "default_ca_dir", "ensure_dev_ca"]

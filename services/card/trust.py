"""Which CA the card service trusts, and how long a challenge lives: read from the environment.

    CARD_CA_CERT=/path/ca-cert.pem   the e-port card CA (PEM). Unset, with EPORT_ENV=development
                                     only: a development CA under
                                     $EPORT_VAR/card-ca, created on first use, which
                                     `python -m services.card.devca issue --ca var/card-ca ...`
                                     issues cards from.
    CARD_CRL=/path/ca-crl.pem        the CA's certificate revocation list (PEM or DER): a file,
      or https://…/ca.crl            or an http(s) URL. Unset: with the development CA, its
                                     $EPORT_VAR/card-ca/ca-crl.pem once `devca revoke` wrote one.
    CARD_CRL_REFRESH=300             seconds between two fetches of a CRL URL (a file is re-read
                                     whenever it changes).
    CARD_CHALLENGE_TTL=120           seconds a card challenge stays valid.
"""
import logging
import os
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path

from services.common.settings import SETTINGS, StartRefused, development, setting, var_dir

from . import certs
from .devca import CA_CERT_FILE, CA_CRL_FILE, CA_KEY_FILE, create_ca, save_ca

log = logging.getLogger(__name__)

DEV_CA_DIRNAME = "card-ca"
DEFAULT_CRL_REFRESH = float(SETTINGS["CARD_CRL_REFRESH"].default)
CRL_FETCH_TIMEOUT = 5
MAX_CRL_BYTES = 16 << 20


def challenge_ttl():
    raw = setting("CARD_CHALLENGE_TTL")
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


def crl_refresh():
    return float(setting("CARD_CRL_REFRESH"))


class RevocationList:
    """The CA's CRL from a file or an http(s) URL, its signature checked against the CA. A file
    is re-read whenever it changes, a URL fetched again every `refresh` seconds. One that cannot
    be re-read (or fails its check) leaves the last good list in force, and the log says so; a
    `required` one that cannot be read at all stops the service at start. A file that is not
    `required` may not exist yet: then nothing is revoked."""

    def __init__(self, source, anchor, *, refresh=DEFAULT_CRL_REFRESH, required=True, clock=time.monotonic):
        self.source, self.anchor, self.refresh, self.required = str(source), anchor, refresh, required
        self.is_url = "://" in self.source
        self._clock = clock
        self._crl, self._stamp, self._fetched_at = None, None, None
        if required:
            self._crl = self._read()  # raises: a configured list must be there

    def is_revoked(self, serial_number):
        self._refresh()
        return self._crl is not None and serial_number in self._crl.revoked

    def _refresh(self):
        if self.is_url and self._fetched_at is not None and self._clock() - self._fetched_at < self.refresh:
            return
        try:
            self._crl = self._read() or self._crl
        except (OSError, ValueError, certs.CardCertificateError) as exc:
            log.warning("card CRL %s could not be re-read (%s); the list read before stays in force",
                        self.source, exc)

    def _read(self):
        """The list as it is now, or None when a file is unchanged (or absent and not required)."""
        if self.is_url:
            self._fetched_at = self._clock()
            if not self.source.startswith(("http://", "https://")):
                raise ValueError("CARD_CRL: only http(s) URLs or file paths")
            with urllib.request.urlopen(self.source, timeout=CRL_FETCH_TIMEOUT) as answer:
                data = answer.read(MAX_CRL_BYTES + 1)
        else:
            path = Path(self.source)
            try:
                stat = path.stat()
            except FileNotFoundError:
                if self.required:
                    raise
                return None
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp == self._stamp:
                return None
            data = path.read_bytes()
            self._stamp = stamp
        if len(data) > MAX_CRL_BYTES:
            raise ValueError(f"CRL larger than {MAX_CRL_BYTES} bytes")
        return certs.load_crl(data, self.anchor.pem())


class TrustAnchor:
    """The CA certificate (PEM) card certificates must chain to, re-read when its file changes,
    and the CA's revocation list when there is one."""

    def __init__(self, path, crl=None, *, crl_required=True):
        self.path = Path(path)
        self._pem, self._mtime = None, None
        self.pem()  # a missing or unreadable CA stops the service at start, not at the first login
        self.revocations = None if crl is None else \
            RevocationList(crl, self, refresh=crl_refresh(), required=crl_required)

    @classmethod
    def from_env(cls):
        configured = (setting("CARD_CA_CERT") or "").strip()
        crl = (setting("CARD_CRL") or "").strip() or None
        if configured:
            return cls(configured, crl)
        if not development():
            raise StartRefused("CARD_CA_CERT is not set: name the e-port card CA's certificate (PEM); a "
                               "development CA is made only with EPORT_ENV=development")
        ca_dir = ensure_dev_ca()
        if crl:
            return cls(ca_dir / CA_CERT_FILE, crl)
        return cls(ca_dir / CA_CERT_FILE, ca_dir / CA_CRL_FILE, crl_required=False)

    def pem(self):
        mtime = self.path.stat().st_mtime_ns
        if mtime != self._mtime:
            self._pem, self._mtime = self.path.read_text(encoding="ascii"), mtime
        return self._pem

    def is_revoked(self, serial_number):
        return self.revocations is not None and self.revocations.is_revoked(serial_number)


__all__ = ["CA_CERT_FILE", "CA_CRL_FILE", "CA_KEY_FILE", "RevocationList", "TrustAnchor", "challenge_ttl",
           "default_ca_dir", "ensure_dev_ca"]

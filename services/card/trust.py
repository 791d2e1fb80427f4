"""Which CA the card service trusts, and how long a challenge lives: read from the environment.

    CARD_CA_CERT=/path/ca-cert.pem   the e-port card CA (PEM). Unset, with EPORT_ENV=development
                                     only: a development CA under
                                     $EPORT_VAR/card-ca, created on first use, which
                                     `python -m eport_card.devca issue --ca var/card-ca ...`
                                     issues cards from.
    CARD_CRL=/path/ca-crl.pem        the CA's certificate revocation list (PEM or DER): a file,
      or https://…/ca.crl            or an http(s) URL. Required outside EPORT_ENV=development
                                     (the service refuses to start without one). Unset in
                                     development: with the development CA, its
                                     $EPORT_VAR/card-ca/ca-crl.pem once `devca revoke` wrote one.
    CARD_CRL_REFRESH=300             seconds between two fetches of a CRL URL (a file is re-read
                                     whenever it changes).
    CARD_CRL_GRACE=86400             seconds a list is still trusted past its nextUpdate; after
                                     that, until a newer one is read, every card operation answers
                                     503 CARD_REVOCATION_UNAVAILABLE (revocation fails closed).
    CARD_CHALLENGE_TTL=120           seconds a card challenge stays valid.
"""
import logging
import os
import shutil
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

from eport_card.devca import CA_CERT_FILE, CA_CRL_FILE, CA_KEY_FILE, create_ca, save_ca
from services.common.settings import SETTINGS, StartRefused, development, setting, var_dir

from . import certs

log = logging.getLogger(__name__)

DEV_CA_DIRNAME = "card-ca"
DEFAULT_CRL_REFRESH = float(SETTINGS["CARD_CRL_REFRESH"].default)
CRL_FETCH_TIMEOUT = 5
MAX_CRL_GRACE = 7 * 86400  # a bounded grace: a CA that stops publishing stops card operations within a week
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


def crl_grace():
    raw = setting("CARD_CRL_GRACE")
    grace = int(raw)
    if not 0 <= grace <= MAX_CRL_GRACE:
        raise ValueError(f"CARD_CRL_GRACE={raw!r}: expected 0 to {MAX_CRL_GRACE} seconds")
    return timedelta(seconds=grace)


class RevocationUnavailable(Exception):
    """The revocation list in force is past its nextUpdate and the grace: nobody can tell whether a
    card was revoked since."""


class RevocationList:
    """The CA's CRL from a file or an http(s) URL, its signature checked against the CA. A file
    is re-read whenever it changes, a URL fetched again every `refresh` seconds. One that cannot
    be re-read (or fails its check), or that is not newer than the list in force (its CRL number,
    else its thisUpdate: an older signed list replayed by a mirror or an attacker), leaves the list
    in force, and the log says so; a `required` one that cannot be read at all stops the service at
    start. A file that is not `required` may not exist yet: then nothing is revoked. The list in
    force past its nextUpdate plus `grace` makes `check_fresh` refuse (fail closed)."""

    def __init__(self, source, anchor, *, refresh=DEFAULT_CRL_REFRESH, required=True, clock=time.monotonic,
                 grace=None):
        self.source, self.anchor, self.refresh, self.required = str(source), anchor, refresh, required
        self.grace = grace if grace is not None else crl_grace()
        self.is_url = "://" in self.source
        self._clock = clock
        self._crl, self._stamp, self._fetched_at = None, None, None
        if required:
            self._crl = self._read()  # raises: a configured list must be there

    def is_revoked(self, serial_number):
        crl = self.current()
        return crl is not None and serial_number in crl.revoked

    def current(self):
        """The list in force (certs.Crl), re-read when due; None while a list that is not required is absent."""
        self._refresh()
        return self._crl

    def check_fresh(self, now):
        """RevocationUnavailable when the list in force is past its nextUpdate plus the grace at `now`
        (an aware datetime). No list (development, none written yet): nothing to be stale."""
        crl = self.current()
        if crl is not None and now > crl.next_update + self.grace:
            raise RevocationUnavailable(
                f"the card CA's revocation list was due again at {crl.next_update.isoformat()} and no newer "
                f"one could be read from {self.source}")

    def _refresh(self):
        if self.is_url and self._fetched_at is not None and self._clock() - self._fetched_at < self.refresh:
            return
        try:
            fresh = self._read()
        except (OSError, ValueError, certs.CardCertificateError) as exc:
            log.warning("card CRL %s could not be re-read (%s); the list read before stays in force",
                        self.source, exc)
            return
        if fresh is None:
            return
        if fresh.newer_than(self._crl):
            self._crl = fresh
        elif fresh != self._crl:
            log.warning("card CRL %s: the list read (number %s, thisUpdate %s) is not newer than the one in force "
                        "(number %s, thisUpdate %s); kept the one in force", self.source, fresh.number,
                        fresh.last_update.isoformat(), self._crl.number, self._crl.last_update.isoformat())

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
        if not development():
            if not configured:
                raise StartRefused("CARD_CA_CERT is not set: name the e-port card CA's certificate (PEM); a "
                                   "development CA is made only with EPORT_ENV=development")
            if not crl:
                raise StartRefused("CARD_CRL is not set: name the e-port card CA's revocation list (a file or an "
                                   "http(s) URL); without one no revoked card would ever be refused")
        if configured:
            return cls(configured, crl)
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

    def check_fresh(self, now):
        """RevocationUnavailable when the revocation list in force is out of date at `now`."""
        if self.revocations is not None:
            self.revocations.check_fresh(now)

    def revocation_list(self):
        """The list in force (certs.Crl) or None."""
        return None if self.revocations is None else self.revocations.current()


__all__ = ["CA_CERT_FILE", "CA_CRL_FILE", "CA_KEY_FILE", "RevocationList", "RevocationUnavailable", "TrustAnchor",
           "challenge_ttl", "crl_grace", "default_ca_dir", "ensure_dev_ca"]

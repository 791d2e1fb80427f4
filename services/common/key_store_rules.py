"""Where the per-person keys may live (services/common/person_keys.py), checked at start-up outside
development (docs/PERSONAL_DATA.md "The per-person keys"; shared/API.md "Personal data").

Crypto-shredding holds only while the keys are kept apart from what they seal: a copy of a folder
holding both an event store and the keys that open it outlives an erasure. So a service refuses to
start (StartRefused, saying which setting and why) when EPORT_KEY_STORE

- is EPORT_VAR, lies inside it or holds it: EPORT_VAR holds the SQLite event stores, the published
  logs, the audit log and the relay positions, and is what an operator copies to back them up
  (the default EPORT_VAR/keys is therefore development's alone);
- or when the key folder or the service's subfolder is not the service user's alone: owned by another
  user, or open to the group or to others (any group or other permission bit; person_keys.py makes
  both 0700, so such bits were added from outside: a copy, a volume mounted with a group).

The folders are what is checked, not each key file: nobody but their owner passes through a 0700
folder, whatever the modes of the files inside, and a check of every file would cost a stat per
person at every start. person_keys.py creates every file it writes 0600 all the same (os.open with
that mode, which a umask can only narrow; a new key is a hard link of such a file).

What cannot be checked from here: where the operator's backups of the key folder go, and their
retention (no longer than the erasure deadline); docs/PERSONAL_DATA.md says so.
"""
import os
import stat
from pathlib import Path

from .secret_rules import StartRefused

KEY_STORE = "EPORT_KEY_STORE"
PRIVATE = stat.S_IRWXG | stat.S_IRWXO  # any bit here: someone but the owner may read or enter


def check_apart(key_store, var, *, configured=True):
    """StartRefused when the key folder and EPORT_VAR (the stores' folder) are one or nest;
    `configured` False: EPORT_KEY_STORE is unset and `key_store` is its default."""
    keys, stores = Path(key_store).resolve(), Path(var).resolve()
    if keys == stores or stores in keys.parents or keys in stores.parents:
        named = f"{KEY_STORE}={key_store}" if configured else f"{KEY_STORE} (not set: its default {key_store})"
        raise StartRefused(
            f"{named} refused: it is {'inside ' if keys != stores else ''}the folder of the event "
            f"stores and published logs (EPORT_VAR={var}), or holds it; a copy or backup of that folder would "
            f"carry the keys with what they seal and outlive an erasure. Set {KEY_STORE} to a folder of its own, "
            f"outside EPORT_VAR, backed up apart (docs/PERSONAL_DATA.md).")


def check_private(folder, service):
    """StartRefused when the key folder or the service's subfolder (each one that exists) is another
    user's, or open to the group or to others. Two stats, however many keys the folder holds."""
    folder = Path(folder)
    for path in (folder, folder / service):
        try:
            status = path.stat()
        except FileNotFoundError:  # person_keys.py makes it, 0700
            continue
        if status.st_uid != os.geteuid():
            raise StartRefused(
                f"{KEY_STORE} refused: {path} belongs to user {status.st_uid}, not to the service's user "
                f"({os.geteuid()}); the per-person keys are for the service's user alone. Give it to that user: "
                f"chown -R {os.geteuid()} {folder}, chmod -R go-rwx {folder} (folders 0700, key files 0600).")
        if status.st_mode & PRIVATE:
            raise StartRefused(
                f"{KEY_STORE} refused: {path} is readable by its group or others (mode "
                f"{stat.S_IMODE(status.st_mode):04o}); the per-person keys are for the service's user alone. "
                f"Make it the user's alone: chmod -R go-rwx {folder} (folders 0700, key files 0600).")


def check_key_store(key_store, var, service, *, configured=True):
    check_apart(key_store, var, configured=configured)
    check_private(key_store, service)

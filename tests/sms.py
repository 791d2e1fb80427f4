"""Reading the SMS outbox the way a person reads their phone: through the platform's one reader
(services/notify/sms.py read_outbox), with the keys of this process's environment (the same
EPORT_VAR, EPORT_KEY_STORE, EPORT_PII_KEK and EPORT_INDEX_KEY as the platform it started)."""
import os
import time
from contextlib import contextmanager

from services.notify.sms import read_outbox

# what the reader needs of a platform: its outbox, and the var/, keys and secrets that open it
PHONE_ENV = ("SMS_OUTBOX", "EPORT_VAR", "EPORT_ENV", "EPORT_KEY_STORE", "EPORT_PII_KEK", "EPORT_INDEX_KEY")


def outbox_path():
    return os.environ["SMS_OUTBOX"]


def messages(mobile=None):
    return read_outbox(outbox_path(), mobile)


def latest_code(mobile, purpose=None, timeout=5.0):
    """The newest code sent to `mobile` (for `purpose`), waiting a little for it to arrive."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in messages(mobile) if purpose is None or m["purpose"] == purpose]
        if found:
            return found[-1]["code"]
        if time.monotonic() > deadline:
            raise AssertionError(f"no SMS for {mobile} ({purpose}) in {outbox_path()}")
        time.sleep(0.05)


@contextmanager
def phone_of(env):
    """This process reads the SMS of the platform started with `env` (its outbox with its keys)."""
    before = {name: os.environ.get(name) for name in PHONE_ENV}
    os.environ.update({name: env[name] for name in PHONE_ENV if env.get(name)})
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

"""Reading the SMS outbox the way a person reads their phone."""
import json
import os
import time


def outbox_path():
    return os.environ["SMS_OUTBOX"]


def messages(mobile=None):
    try:
        with open(outbox_path(), encoding="utf-8") as f:
            lines = [json.loads(line) for line in f if line.endswith("\n")]  # the last may be half written
    except FileNotFoundError:
        return []
    return [m for m in lines if mobile is None or m["mobile"] == mobile]


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

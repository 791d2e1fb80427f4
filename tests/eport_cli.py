"""Runs the `eport` console script as an operator would: a real subprocess on the test's broker."""
import json
import os
import subprocess
import sys
from pathlib import Path

EPORT = Path(sys.executable).parent / "eport"


def eport(*args, amqp_uri=None, timeout=120, check=True, env=None):
    """The finished process; with `check`, fails the test on a non-zero exit, showing stderr."""
    full_env = dict(os.environ, **(env or {}))
    if amqp_uri:
        full_env["AMQP_URI"] = amqp_uri
        full_env.pop("EPORT_AMQP_URI", None)
    done = subprocess.run([str(EPORT), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=full_env)
    if check:
        assert done.returncode == 0, f"eport {' '.join(map(str, args))} exited {done.returncode}:\n{done.stderr}"
    return done


def json_lines(done):
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]

"""Runs one service in the foreground, as a container's main process does.

    python -m deploy.serve identity        # = nameko run --config deploy/config.yaml services.identity…

The image of deploy/Dockerfile starts every service this way (compose.yaml, k8s/): one process
per container, configured by the environment (README, "Configuration"). SIGTERM stops it cleanly.
"""
import os
import sys

from .launch import ROOT, SERVICES, service_command, service_env


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in SERVICES:
        raise SystemExit(f"usage: python -m deploy.serve {{{','.join(SERVICES)}}}")
    os.chdir(ROOT)
    command = service_command(argv[0])
    os.execve(command[0], command, service_env(os.environ, argv[0]))  # the service becomes this process


if __name__ == "__main__":
    main()

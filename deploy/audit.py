"""Kept as an alias: `python -m deploy.audit ARGS` is `eport audit ARGS` (deploy/eport/audit.py)."""
import sys

from deploy.eport.cli import main

if __name__ == "__main__":
    sys.exit(main(["audit", *sys.argv[1:]]))

"""Timestamps as the platform writes them: ISO 8601 with a time zone (UTC)."""
from datetime import datetime, UTC


def iso_of_epoch(seconds):
    """The ISO 8601 text of an instant given in epoch seconds (what injected clocks answer)."""
    return datetime.fromtimestamp(seconds, UTC).isoformat()

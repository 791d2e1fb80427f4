"""Writes that survive a crash: a file's or a folder's contents flushed to the disk (fsync), for the
store swaps of `eport rebuild` (swap.py) and the per-person keys (person_keys.py)."""
import os


def fsync_path(path):
    """Flushes a file, or a folder's entries (a rename, a link, a removal in it), to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

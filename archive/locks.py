"""A lock shared by the processes of one machine: ``fcntl.flock`` on a file.

For the writers that all run where their data is (the Whoosh folder's indexer, the OCR
queue's recogniser); what several servers share takes a lock where they all are (PostgreSQL's
advisory lock, :meth:`archive.search.postgres.backend.PgSearchIndex.exclusive`). The lock
dies with the process that holds it, so a crash never leaves it taken.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive(lock_path: Path, timeout: float) -> Iterator[bool]:
    """Hold the lock on ``lock_path``; yields False if it could not be had within ``timeout``."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    yield False
                    return
                time.sleep(0.02)
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)

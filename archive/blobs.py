"""Content-addressed blob store: a file's name is its sha256, written once, read-only after.

:class:`Blobs` is what the archive needs of any store; :class:`BlobStore`, a local folder, is
the one there is. Writes go to a temp file in the same folder, are fsynced and renamed into
place, and the folder is fsynced: after a crash a blob is either whole under its name or
absent. On a shared filesystem (several app servers) the same holds as long as the temp file
and its target are on that one filesystem (docs/scale-out.md).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol, runtime_checkable


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@runtime_checkable
class Blobs(Protocol):
    """A write-once store of byte strings named by their sha256 (hex).

    ``put`` is idempotent and returns the name only once the bytes are durable; nothing is
    ever replaced or deleted. ``verify`` re-reads the bytes and compares their hash.
    """

    def put(self, data: bytes) -> str: ...

    def get(self, digest: str) -> bytes: ...

    def exists(self, digest: str) -> bool: ...

    def verify(self, digest: str) -> bool: ...


class BlobStore:
    """The local folder (``WENSHU_DATA/archive``): :class:`Blobs`, plus ``root`` and ``path()``
    for what reads files directly (downloads streamed from disk, backups, the health check)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a sha256 digest: {digest!r}")
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        digest = sha256_hex(data)
        target = self.path(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o400)  # write-once, and the service user's alone
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return digest

    def get(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def verify(self, digest: str) -> bool:
        """True when the blob exists and its bytes still hash to its name."""
        p = self.path(digest)
        if not p.is_file():
            return False
        h = hashlib.sha256()
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest() == digest

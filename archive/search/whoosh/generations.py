"""The generations of a Whoosh index folder: which one is live, opening one, swapping in a new one.

``<path>/CURRENT`` names the live ``gen-<...>/`` folder; a rebuild writes a new generation
and replaces ``CURRENT`` atomically (temp file, fsync, rename, fsync of the folder). The
previous generation is kept, so a process still reading it finishes its search.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage

from archive.errors import IntegrityError
from archive.search.analysis import ANALYSIS_VERSION
from archive.search.whoosh.schema import SCHEMA

VERSION_FILE = "ANALYSIS_VERSION"
"""In each generation: the analysis it was built with (another version is rebuilt)."""
_GEN_RE = re.compile(r"^gen-[0-9a-f]{12,40}$")


class Generations:
    """The generations under ``path``; holds no state but the path."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fresh(self) -> bool:
        """No pointer and no generation at all: a new index, not a damaged one."""
        return not (self.path / "CURRENT").exists() and not any(self.all())

    def all(self) -> Iterator[Path]:
        return (p for p in self.path.iterdir() if p.is_dir() and _GEN_RE.match(p.name))

    def current(self) -> str | None:
        try:
            name = (self.path / "CURRENT").read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return name if _GEN_RE.match(name) else None

    def require_current(self) -> str:
        gen = self.current()
        if gen is None:
            raise IntegrityError("搜索索引缺失或已损坏，请重建索引。")
        return gen

    def create(self) -> str:
        """A new, empty generation (not live until :meth:`publish`)."""
        gen = f"gen-{time.time_ns():x}{uuid.uuid4().hex[:8]}"
        (self.path / gen).mkdir()
        whoosh_index.create_in(str(self.path / gen), SCHEMA)
        (self.path / gen / VERSION_FILE).write_text(f"{ANALYSIS_VERSION}\n", encoding="ascii")
        return gen

    def publish(self, gen: str) -> None:
        """Make ``gen`` the live generation, durably."""
        tmp = self.path / f"CURRENT.{uuid.uuid4().hex}"
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write(gen + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path / "CURRENT")
        dir_fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def open(self, gen: str) -> Any:
        """Open generation ``gen`` without memory-mapping its files: whoosh-reloaded reads each
        part of an mmap'ed compound segment through a BytesIO, i.e. copies the whole segment
        into memory for every searcher (a 100,000-document index cost 1.6 GB and a second to
        open)."""
        return FileStorage(str(self.path / gen), supports_mmap=False).open_index()

    def files_state(self, gen: str) -> frozenset[tuple[str, int, int]]:
        """Name, size and time of each file of ``gen``: unchanged, it needs no new check."""
        return frozenset(
            (entry.name, entry.stat().st_size, entry.stat().st_mtime_ns)
            for entry in os.scandir(self.path / gen)
            if entry.is_file()
        )

    def remove_all_but(self, keep: set[str | None]) -> None:
        for gen_dir in list(self.all()):
            if gen_dir.name not in keep:
                shutil.rmtree(gen_dir, ignore_errors=True)

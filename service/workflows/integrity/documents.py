"""The expensive part of verification — hashing blobs, validating PDF signatures — on every core.

pyHanko's validation is pure Python (≈ 11–19 ms a PDF) and holds the GIL, so threads do not
help: the work goes to a pool of processes (``WENSHU_VERIFY_WORKERS``, default every core). A
task names only digests and an org; each worker opens the blob store itself and reads the
files, so no PDF crosses a pipe. Results come back in the order of the tasks, so a report is
the same whatever the number of workers; ``workers=1`` does the work in this process.

How the workers start depends on the process: a single-threaded one (the ``wenshu`` command)
forks them, which costs nothing; one with other threads (the fixity timer in ``wenshu serve``)
uses ``forkserver``, since forking a threaded process can inherit a lock another thread holds.
The fork server lives as long as the process and imports this module (and the main one) once;
its workers still import the main module again, which for the ``wenshu`` command costs seconds
a pool on a loaded machine — more than validating 200 PDFs (docs/performance.md) — hence fork
where it is safe.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from pathlib import Path

from archive.blobs import BlobStore
from archive.models import Document
from service.documents.pades import verify_pdf

POOL_THRESHOLD = 16
"""Below this many documents the pool's start-up costs more than it saves: done in-process."""


@dataclass(frozen=True)
class DocumentFiles:
    """What a worker needs to check one document's files."""

    document_id: str
    org: str
    input_sha256: str
    docx_sha256: str
    pdf_sha256: str


Finding = tuple[str, str]
"""(kind, message): kind is ``blob`` or ``signature``."""

_store: BlobStore | None = None
_trusted: Mapping[str, list[bytes]] = {}


def _start_worker(root: Path, trusted: Mapping[str, list[bytes]]) -> None:
    global _store, _trusted
    _store, _trusted = BlobStore(root), trusted


def file_findings(files: DocumentFiles) -> list[Finding]:
    """The three blobs (present, bytes hash to their name) and the PDF's signature (intact,
    valid, trusted by the org's certificates, covering the whole file)."""
    assert _store is not None, "call _start_worker first"
    findings: list[Finding] = []
    for kind, digest in (
        ("input", files.input_sha256),
        ("docx", files.docx_sha256),
        ("pdf", files.pdf_sha256),
    ):
        if not _store.exists(digest):
            findings.append(("blob", f"{kind} blob {digest} is missing"))
        elif not _store.verify(digest):
            findings.append(("blob", f"{kind} blob {digest} does not match its sha256"))
    if _store.exists(files.pdf_sha256):
        sig = verify_pdf(
            _store.get(files.pdf_sha256), trusted_certs=list(_trusted.get(files.org, []))
        )
        if not sig.ok:
            findings.append(
                (
                    "signature",
                    f"signature not valid (intact={sig.intact}, valid={sig.valid}, "
                    f"trusted={sig.trusted}, covers_whole_file={sig.covers_whole_file}, "
                    f"signer={sig.signer!r}): {sig.error or ''}",
                )
            )
    return findings


class FileChecker:
    """Checks the files of documents, in a pool kept for as many calls as the ``with`` lasts.

    ``trusted`` maps each org code to the PEM certificates its PDFs may be signed under.
    """

    def __init__(self, root: Path, trusted: Mapping[str, list[bytes]], *, workers: int) -> None:
        self.root, self.trusted, self.workers = root, dict(trusted), workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> FileChecker:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    @property
    def pooled(self) -> bool:
        """Whether the work went to other processes."""
        return self._pool is not None

    def __call__(self, tasks: Sequence[DocumentFiles]) -> list[list[Finding]]:
        """The findings of each task, in the order of ``tasks``."""
        if self.workers <= 1 or (self._pool is None and len(tasks) < POOL_THRESHOLD):
            _start_worker(self.root, self.trusted)
            return [file_findings(t) for t in tasks]
        if self._pool is None:
            context: BaseContext = multiprocessing.get_context("fork")
            if threading.active_count() > 1:
                context = multiprocessing.get_context("forkserver")
                multiprocessing.get_context("forkserver").set_forkserver_preload([__name__])
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=context,
                initializer=_start_worker,
                initargs=(self.root, self.trusted),
            )
        size = chunk_size(len(tasks), self.workers)
        return list(self._pool.map(file_findings, tasks, chunksize=size))


def chunk_size(n: int, workers: int) -> int:
    """Big enough that the pipe is not the bottleneck, small enough that the cores finish
    together."""
    return max(1, min(32, n // (workers * 8)))


def files_of(doc: Document, org: str) -> DocumentFiles:
    return DocumentFiles(doc.id, org, doc.input_sha256, doc.docx_sha256, doc.pdf_sha256)

"""Feeding the search index from the archive, one writer at a time.

The document's transaction also writes a row to ``index_queue``: the to-do is as durable as the
document. ``drain`` takes an exclusive lock (so no two processes ever write the index at
once: a file lock for Whoosh, an advisory lock shared by every app server for the PostgreSQL
table), indexes every pending row and marks it done. Each issuing request drains after its commit
and searches drain before they query, so nothing waits longer than one drain. The index is derived
data: ``rebuild`` makes it anew from the archive.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from archive.blobs import BlobStore
from archive.db import Database
from archive.models import Document, IndexQueueEntry, Org, Withdrawal
from archive.search_extract import identifiers_in, input_facts
from archive.search_index import IndexedDoc, SearchIndex
from archive.search_pg import PgSearchIndex
from archive.signed_copies import scan_text_digests

__all__ = ["Indexer", "enqueue", "identifiers_in", "indexed_doc", "pending_count", "pdf_text"]

log = logging.getLogger(__name__)
BATCH = 200
EXTRACTORS = max(1, min(4, os.cpu_count() or 1))
"""pdftotext processes run at once while loading a batch (they are separate processes)."""
PARALLEL_FROM = 2_000
"""A rebuild forks indexing processes only for archives this large: below, forking costs more
than it saves."""


def enqueue(session: Session, document_id: str, at: datetime) -> None:
    session.add(IndexQueueEntry(document_id=document_id, enqueued_at=at))


def pending_count(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(IndexQueueEntry)
            .where(IndexQueueEntry.done_at.is_(None))
        )
        or 0
    )


@contextmanager
def exclusive(lock_path: Path, timeout: float) -> Iterator[bool]:
    """Hold the index-writer lock; yields False if it could not be had within ``timeout``."""
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


def pdf_text(pdf: bytes) -> str:
    """The PDF's text in reading order (poppler's pdftotext: ~10× faster than pypdf on CJK)."""
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"],
        input=pdf,
        capture_output=True,
        timeout=60,
        check=True,
    )
    return out.stdout.decode("utf-8", errors="replace").replace("\f", "\n")


def indexed_doc(
    doc: Document, org_code: str, withdrawn: bool, blobs: BlobStore, scan_text: str | None = None
) -> IndexedDoc:
    """The document as the index sees it: the words on paper (the PDF's text) plus the facts of
    its archived input (names, inspectors, identifiers, amount), and the recognised text of its
    hand-signed original (``scan_text``: blob digest), kept apart so hits can say so.

    The one place the per-document search record is built, for every search backend."""
    raw = json.loads(blobs.get(doc.input_sha256))
    facts = input_facts(doc.type, raw.get("data"))
    issued_at = doc.issued_at if doc.issued_at.tzinfo else doc.issued_at.replace(tzinfo=UTC)
    return IndexedDoc(
        id=doc.id,
        type=doc.type,
        org=org_code,
        case_no=doc.case_no,
        wenhao=doc.wenhao,
        archive_no=doc.archive_no,
        title=doc.title,
        body=pdf_text(blobs.get(doc.pdf_sha256)),
        issued_at=issued_at,
        status="withdrawn" if withdrawn else "issued",
        identifiers=facts.identifiers,
        institutions=facts.institutions,
        persons=facts.persons,
        inspectors=facts.inspectors,
        amount=_stored_amount(doc) or facts.amount,
        scan_text=blobs.get(scan_text).decode("utf-8") if scan_text else "",
    )


def _stored_amount(doc: Document) -> Decimal | None:
    """A report's total computed and stored at issue (``facts``), as printed on it."""
    try:
        return Decimal(str((doc.facts or {})["total_amount"]))
    except (KeyError, TypeError, InvalidOperation):
        return None


def _load(session: Session, doc_ids: list[str], blobs: BlobStore) -> list[IndexedDoc]:
    rows = session.execute(
        select(Document, Org.code, Withdrawal.document_id)
        .join(Org, Document.org_id == Org.id)
        .outerjoin(Withdrawal, Withdrawal.document_id == Document.id)
        .where(Document.id.in_(doc_ids))
    ).all()
    scans = scan_text_digests(session, doc_ids)

    def build(row: Any) -> IndexedDoc:
        return indexed_doc(row[0], row[1], row[2] is not None, blobs, scans.get(row[0].id))

    if len(rows) <= 1:
        return [build(row) for row in rows]
    # pdftotext runs in its own process: extracting a batch side by side uses every core.
    with ThreadPoolExecutor(max_workers=EXTRACTORS) as pool:
        return list(pool.map(build, rows))


class Indexer:
    def __init__(
        self, db: Database, blobs: BlobStore, index: SearchIndex | PgSearchIndex, lock_path: Path
    ) -> None:
        self.db, self.blobs, self.index, self.lock_path = db, blobs, index, lock_path

    def _exclusive(self, timeout: float) -> Any:
        """The writer lock: PostgreSQL's advisory lock when the index is a table every server
        shares (a file lock does not reach other machines), else the file lock."""
        if isinstance(self.index, PgSearchIndex):
            return self.index.exclusive(timeout)
        return exclusive(self.lock_path, timeout)

    def drain(self, timeout: float = 10.0, *, if_pending: bool = False) -> int:
        """Index every queued document. Returns how many; 0 if another process holds the lock.

        With ``if_pending`` (a search making sure what was just issued is found) it returns at
        once when the queue is empty, instead of waiting for the lock (a writer may be merging
        segments) and checking the index (the background drain does that).
        """
        if if_pending:
            with self.db.read() as s:
                if not pending_count(s):
                    return 0
        done = 0
        with self._exclusive(timeout) as got:
            if not got:
                return 0
            if not self.index.check():
                log.warning("search index missing or damaged: rebuilding from the archive")
                return self._rebuild_locked(None)
            while True:
                with self.db.read() as s:
                    entries = list(
                        s.scalars(
                            select(IndexQueueEntry)
                            .where(IndexQueueEntry.done_at.is_(None))
                            .order_by(IndexQueueEntry.id)
                            .limit(BATCH)
                        )
                    )
                    if not entries:
                        return done
                    docs = _load(s, sorted({e.document_id for e in entries}), self.blobs)
                self.index.add(docs)
                with self.db.write() as s:
                    s.execute(
                        update(IndexQueueEntry)
                        .where(IndexQueueEntry.id.in_([e.id for e in entries]))
                        .values(done_at=datetime.now(UTC))
                    )
                done += len(entries)

    def _all_docs(self) -> Iterator[IndexedDoc]:
        last = ""
        while True:
            with self.db.read() as s:
                ids = list(
                    s.scalars(
                        select(Document.id)
                        .where(Document.id > last)
                        .order_by(Document.id)
                        .limit(BATCH)
                    )
                )
                if not ids:
                    return
                docs = _load(s, ids, self.blobs)
            yield from docs
            last = ids[-1]

    def _rebuild_locked(self, progress: Callable[[int], None] | None, procs: int = 1) -> int:
        # Queue rows up to here belong to documents the rebuild will read; later ones stay queued.
        with self.db.read() as s:
            upto = s.scalar(select(func.max(IndexQueueEntry.id))) or 0
        n = self.index.rebuild(self._all_docs(), progress=progress, procs=procs)
        with self.db.write() as s:
            s.execute(
                update(IndexQueueEntry)
                .where(IndexQueueEntry.done_at.is_(None))
                .where(IndexQueueEntry.id <= upto)
                .values(done_at=datetime.now(UTC))
            )
        return n

    def rebuild(
        self,
        progress: Callable[[int], None] | None = None,
        timeout: float = 600.0,
        procs: int | None = None,
    ) -> int:
        """Make the index anew from the archive (``wenshu reindex``).

        ``procs`` indexing processes (default: one per core, at most 2, for archives of
        ``PARALLEL_FROM`` documents or more); a rebuild started inside the threaded server
        (a damaged index found by ``drain``) uses one.
        """
        if procs is None:
            with self.db.read() as s:
                count = int(s.scalar(select(func.count()).select_from(Document)) or 0)
            procs = max(1, min(2, os.cpu_count() or 1)) if count >= PARALLEL_FROM else 1
        with self._exclusive(timeout) as got:
            if not got:
                raise TimeoutError("另一个进程正在写入检索索引，请稍后再试")
            return self._rebuild_locked(progress, procs)

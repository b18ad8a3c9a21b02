"""Feeding the search index from the archive, one writer at a time.

The document's transaction also writes a row to ``index_queue``: the to-do is as durable as
the document. ``drain`` takes the lock the backend asks for (``SearchBackend.exclusive``: so
no two processes ever write the index at once -- a file lock for a Whoosh folder, an advisory
lock shared by every app server for the PostgreSQL table), indexes the pending rows and marks
them done. After its commit an issuing request wakes its process's background indexer, which
lets a batch gather first while documents stream in (the backend's ``gather_seconds``); a
search wakes it and waits, bounded in time, for what was queued before it (``wait_for``), then
says how many documents were still on their way into the index. A waiting search also cuts
the gathering short, in whichever process of the machine gathers (``hurry``): the batch then
is what came in during the last commit, and the search waits for one commit, not for the
gathering too. The index is derived data: ``rebuild`` makes it anew from the archive.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pypdf import PdfReader
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from archive.blobs import BlobStore
from archive.db import Database
from archive.models import Document, IndexQueueEntry, Org, Withdrawal
from archive.search import IndexedDoc, SearchBackend
from archive.search.extract import identifiers_in, input_facts
from archive.signed_copies import scan_text_digests

__all__ = ["Indexer", "enqueue", "identifiers_in", "indexed_doc", "pending_count", "pdf_text"]

log = logging.getLogger(__name__)
BATCH = 200
PARALLEL_FROM = 2_000
"""A rebuild forks indexing processes only for archives this large: below, forking costs more
than it saves."""
CATCH_UP_POLL = 0.02
"""How often a search waiting for just-issued documents looks whether they are indexed."""
GATHER_POLL = 0.02
"""How often a gathering indexer looks whether a search is waiting (``hurry``)."""


def enqueue(session: Session, document_id: str, at: datetime) -> None:
    session.add(IndexQueueEntry(document_id=document_id, enqueued_at=at))


def pending_count(session: Session, upto: int | None = None) -> int:
    """Queued documents not yet searchable (those queued up to entry ``upto``, or all)."""
    query = (
        select(func.count()).select_from(IndexQueueEntry).where(IndexQueueEntry.done_at.is_(None))
    )
    if upto is not None:
        query = query.where(IndexQueueEntry.id <= upto)
    return int(session.scalar(query) or 0)


def pdf_text(pdf: bytes) -> str:
    """The text of a PDF this service made, in reading order, page after page.

    pypdf, in the process: on LibreOffice's PDFs (CJK fonts embedded as Type 1 subsets) it
    takes ~12 ms of CPU per page where poppler's pdftotext takes ~130 ms (it parses each font
    program for its built-in encoding), and keeps a table row on one line. Scans uploaded by
    users go through ``service.workers.ocr`` instead, in a separate process with a time limit.
    """
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


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
    return [
        indexed_doc(doc, code, withdrawn is not None, blobs, scans.get(doc.id))
        for doc, code, withdrawn in rows
    ]


class Indexer:
    def __init__(
        self, db: Database, blobs: BlobStore, index: SearchBackend, lock_path: Path
    ) -> None:
        """``lock_path``: this machine's lock file for the writers of an index that lives here
        (the backend says whether it needs it, see ``_exclusive``)."""
        self.db, self.blobs, self.index, self.lock_path = db, blobs, index, lock_path

    def _exclusive(self, timeout: float) -> AbstractContextManager[bool]:
        """The writer lock, as the backend needs it: PostgreSQL's advisory lock when the index
        is a table every server shares (a file lock does not reach other machines), the file
        lock on ``lock_path`` for a Whoosh folder."""
        return self.index.exclusive(timeout, self.lock_path)

    def drain(self, timeout: float = 10.0, *, gather: bool = False) -> int:
        """Index what is queued (later entries wait for the next drain: a batch stays a
        batch), after checking the index (rebuilt if damaged). Returns how many; 0 if another
        process held the lock all along. With ``gather`` (the background indexer), first let
        documents gather while the index is busy (the backend's ``gather_seconds``), holding the
        lock: the others' documents are in the batch."""
        with self._exclusive(timeout) as got:
            if not got:
                return 0
            if gather:
                self._gather()
            return self._drain_locked(self.last_queued())

    def last_queued(self) -> int | None:
        """The newest queue entry not yet indexed, if any."""
        with self.db.read() as s:
            return s.scalar(
                select(func.max(IndexQueueEntry.id)).where(IndexQueueEntry.done_at.is_(None))
            )

    def _gather(self) -> None:
        """Sleep until the backend's ``gather_seconds`` after the last commit (by any process or
        server): when that was longer ago, a document is indexed at once; and when a search of
        this machine has been waiting since that commit (``hurry``), at once too."""
        with self.db.read() as s:
            last = s.scalar(select(func.max(IndexQueueEntry.done_at)))
        if last is None:
            return
        last_at = (last if last.tzinfo else last.replace(tzinfo=UTC)).timestamp()
        until = time.monotonic() + self.index.gather_seconds - (time.time() - last_at)
        while time.monotonic() < until and not self._hurried_since(last_at):
            time.sleep(min(GATHER_POLL, max(0.0, until - time.monotonic())))

    @property
    def _hurry_path(self) -> Path:
        return self.lock_path.with_name(self.lock_path.name + ".wanted")

    def hurry(self) -> None:
        """Say that a search is waiting for what is queued: whoever gathers a batch on this
        machine commits it now (the file's time says since when)."""
        try:
            self._hurry_path.touch()
        except OSError:  # a read-only run folder: the gathering just takes its time
            log.debug("cannot touch %s", self._hurry_path)

    def _hurried_since(self, moment: float) -> bool:
        try:
            return self._hurry_path.stat().st_mtime >= moment
        except OSError:
            return False

    def wait_for(self, upto: int, timeout: float) -> int:
        """Wait at most ``timeout`` until the entries up to ``upto`` are indexed (by whichever
        process holds the writer lock); returns how many of them still are not."""
        deadline = time.monotonic() + timeout
        hurried = False
        while True:
            with self.db.read() as s:
                left = pending_count(s, upto)
            if not left or time.monotonic() >= deadline:
                return left
            if not hurried:
                self.hurry()
                hurried = True
            time.sleep(CATCH_UP_POLL)

    def _drain_locked(self, upto: int | None) -> int:
        """Index queued entries up to id ``upto`` (None: none) in batches; lock held.

        Each batch is one commit (new documents searchable, marked done), then a merge of
        small segments if due (``compact``), which no one waiting for them need wait for."""
        if not self.index.check():
            log.warning("search index missing or damaged: rebuilding from the archive")
            return self._rebuild_locked(None)
        done = 0
        while upto is not None:
            with self.db.read() as s:
                entries = list(
                    s.scalars(
                        select(IndexQueueEntry)
                        .where(IndexQueueEntry.done_at.is_(None), IndexQueueEntry.id <= upto)
                        .order_by(IndexQueueEntry.id)
                        .limit(BATCH)
                    )
                )
                if not entries:
                    return done
                started = time.monotonic()
                docs = _load(s, sorted({e.document_id for e in entries}), self.blobs)
            self.index.add(docs)
            with self.db.write() as s:
                s.execute(
                    update(IndexQueueEntry)
                    .where(IndexQueueEntry.id.in_([e.id for e in entries]))
                    .values(done_at=datetime.now(UTC))
                )
            done += len(entries)
            merged = time.monotonic()
            self.index.compact()
            log.debug(
                "indexed %d documents in %.2f s, compacted in %.2f s",
                len(entries),
                merged - started,
                time.monotonic() - merged,
            )
        return done

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

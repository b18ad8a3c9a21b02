"""Feeding the search index from the archive, one writer at a time.

The document's transaction also writes a row to ``index_queue``: the to-do is as durable as the
document. ``drain`` takes an exclusive file lock (so no two processes ever write the index at
once), indexes every pending row and marks it done. Each issuing request drains after its commit
and searches drain before they query, so nothing waits longer than one drain. The index is derived
data: ``rebuild`` makes it anew from the archive.
"""

from __future__ import annotations

import fcntl
import json
import logging
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from archive.blobs import BlobStore
from archive.db import Database
from archive.models import Document, IndexQueueEntry, Org, Withdrawal
from archive.search_index import IndexedDoc, SearchIndex
from schemas.fields import is_valid_credit_code, is_valid_id_card

log = logging.getLogger(__name__)
BATCH = 200


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
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, timeout=60, check=True)
    return out.stdout.decode("utf-8", errors="replace").replace("\f", "\n")


def identifiers_in(value: Any) -> set[str]:
    """Every valid 身份证号 / 统一社会信用代码 anywhere in the input, for exact-match search."""
    found: set[str] = set()
    if isinstance(value, dict):
        for v in value.values():
            found |= identifiers_in(v)
    elif isinstance(value, list):
        for v in value:
            found |= identifiers_in(v)
    elif isinstance(value, str) and len(value.strip()) == 18:
        s = value.strip().upper()
        if is_valid_id_card(s) or is_valid_credit_code(s):
            found.add(s)
    return found


def indexed_doc(doc: Document, org_code: str, withdrawn: bool, blobs: BlobStore) -> IndexedDoc:
    raw = json.loads(blobs.get(doc.input_sha256))
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
        identifiers=tuple(sorted(identifiers_in(raw.get("data")))),
    )


def _load(session: Session, doc_ids: list[str], blobs: BlobStore) -> list[IndexedDoc]:
    rows = session.execute(
        select(Document, Org.code, Withdrawal.document_id)
        .join(Org, Document.org_id == Org.id)
        .outerjoin(Withdrawal, Withdrawal.document_id == Document.id)
        .where(Document.id.in_(doc_ids))
    ).all()
    return [indexed_doc(doc, code, wd is not None, blobs) for doc, code, wd in rows]


class Indexer:
    def __init__(self, db: Database, blobs: BlobStore, index: SearchIndex, lock_path: Path) -> None:
        self.db, self.blobs, self.index, self.lock_path = db, blobs, index, lock_path

    def drain(self, timeout: float = 10.0) -> int:
        """Index every queued document. Returns how many; 0 if another process holds the lock."""
        done = 0
        with exclusive(self.lock_path, timeout) as got:
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

    def _rebuild_locked(self, progress: Callable[[int], None] | None) -> int:
        # Queue rows up to here belong to documents the rebuild will read; later ones stay queued.
        with self.db.read() as s:
            upto = s.scalar(select(func.max(IndexQueueEntry.id))) or 0
        n = self.index.rebuild(self._all_docs(), progress=progress)
        with self.db.write() as s:
            s.execute(
                update(IndexQueueEntry)
                .where(IndexQueueEntry.done_at.is_(None))
                .where(IndexQueueEntry.id <= upto)
                .values(done_at=datetime.now(UTC))
            )
        return n

    def rebuild(self, progress: Callable[[int], None] | None = None, timeout: float = 600.0) -> int:
        """Make the index anew from the archive (``wenshu reindex``)."""
        with exclusive(self.lock_path, timeout) as got:
            if not got:
                raise TimeoutError("另一个进程正在写入检索索引，请稍后再试")
            return self._rebuild_locked(progress)

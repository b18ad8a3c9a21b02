"""Signed copies: the hand-signed paper originals of records and transcripts, in the archive.

A signed copy is a scan (a PDF, blob) linked to its document, one row per uploaded version;
its recognition (OCR) is a row of its own, written later by the recogniser from a durable queue.
Both tables are append-only. This module holds the queries; nothing here knows HTTP or OCR, nor
which types are signed by hand: the caller says (each type declares it, ``service/doctypes``).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from archive.blobs import BlobStore
from archive.models import (
    AuditEvent,
    Document,
    OcrQueueEntry,
    Org,
    SignedCopy,
    SignedCopyOcr,
    SignedCopyReview,
    User,
)

UPLOAD_ACTION = "document.signed_copy"
OCR_ACTION = "document.signed_copy_ocr"
AGAIN_ACTION = "document.signed_copy_ocr_again"
REVIEW_ACTION = "document.signed_copy_review"
MAX_ATTEMPTS = 3
"""A scan whose recognition failed this often is recorded as failed (it stays archived)."""


@dataclass(frozen=True)
class CopyState:
    """A document's latest signed copy, with its latest recognition (None while still queued),
    the queue entry at work on it (a first or a further run; None when none is open) and the
    reviews of its latest recognition."""

    copy: SignedCopy
    uploaded_by: str
    ocr: SignedCopyOcr | None
    pending: OcrQueueEntry | None = None
    reviews: tuple[SignedCopyReview, ...] = ()


def _latest_run() -> Any:
    """Subquery: each signed copy's newest recognition run."""
    return (
        select(SignedCopyOcr.signed_copy_id, func.max(SignedCopyOcr.run).label("run"))
        .group_by(SignedCopyOcr.signed_copy_id)
        .subquery()
    )


def _with_work(session: Session, states: list[CopyState]) -> list[CopyState]:
    """``states`` with their open queue entries and the reviews of their latest runs."""
    ids = [st.copy.id for st in states]
    if not ids:
        return states
    open_entries = {
        e.signed_copy_id: e
        for e in session.scalars(
            select(OcrQueueEntry).where(
                OcrQueueEntry.signed_copy_id.in_(ids), OcrQueueEntry.done_at.is_(None)
            )
        )
    }
    reviews: dict[tuple[int, int], list[SignedCopyReview]] = {}
    for r in session.scalars(
        select(SignedCopyReview)
        .where(SignedCopyReview.signed_copy_id.in_(ids))
        .order_by(SignedCopyReview.id)
    ):
        reviews.setdefault((r.signed_copy_id, r.run), []).append(r)
    return [
        CopyState(
            st.copy,
            st.uploaded_by,
            st.ocr,
            open_entries.get(st.copy.id),
            tuple(reviews.get((st.copy.id, st.ocr.run), ())) if st.ocr else (),
        )
        for st in states
    ]


def latest_copies(session: Session, doc_ids: list[str]) -> dict[str, CopyState]:
    """The latest version of each document's signed copy (documents without one are absent)."""
    if not doc_ids:
        return {}
    newest = (
        select(SignedCopy.document_id, func.max(SignedCopy.version).label("v"))
        .where(SignedCopy.document_id.in_(doc_ids))
        .group_by(SignedCopy.document_id)
        .subquery()
    )
    runs = _latest_run()
    rows = session.execute(
        select(SignedCopy, User.name, SignedCopyOcr)
        .join(
            newest,
            and_(SignedCopy.document_id == newest.c.document_id, SignedCopy.version == newest.c.v),
        )
        .join(User, SignedCopy.uploaded_by == User.id)
        .outerjoin(runs, runs.c.signed_copy_id == SignedCopy.id)
        .outerjoin(
            SignedCopyOcr,
            and_(SignedCopyOcr.signed_copy_id == SignedCopy.id, SignedCopyOcr.run == runs.c.run),
        )
    ).all()
    states = _with_work(session, [CopyState(c, name, ocr) for c, name, ocr in rows])
    return {st.copy.document_id: st for st in states}


def copy_version(session: Session, doc_id: str, version: int | None) -> CopyState | None:
    """One version of a document's signed copy; the latest when ``version`` is None."""
    if version is None:
        return latest_copies(session, [doc_id]).get(doc_id)
    runs = _latest_run()
    row = session.execute(
        select(SignedCopy, User.name, SignedCopyOcr)
        .join(User, SignedCopy.uploaded_by == User.id)
        .outerjoin(runs, runs.c.signed_copy_id == SignedCopy.id)
        .outerjoin(
            SignedCopyOcr,
            and_(SignedCopyOcr.signed_copy_id == SignedCopy.id, SignedCopyOcr.run == runs.c.run),
        )
        .where(SignedCopy.document_id == doc_id, SignedCopy.version == version)
    ).first()
    return _with_work(session, [CopyState(row[0], row[1], row[2])])[0] if row else None


def add_copy(
    session: Session,
    doc: Document,
    *,
    sha256: str,
    source: str,
    size: int,
    pages: int,
    by_user: int,
    at: datetime,
) -> SignedCopy:
    """The next version of ``doc``'s signed copy, queued for recognition (same transaction).

    The document row is locked first (``FOR UPDATE`` on PostgreSQL; SQLite's write transaction
    is already exclusive), so two uploads at once get versions n and n+1, never both n.
    """
    session.execute(select(Document.id).where(Document.id == doc.id).with_for_update())
    last = session.scalar(
        select(func.max(SignedCopy.version)).where(SignedCopy.document_id == doc.id)
    )
    copy = SignedCopy(
        document_id=doc.id,
        version=(last or 0) + 1,
        sha256=sha256,
        source=source,
        size=size,
        pages=pages,
        expected_pages=doc.page_count,
        uploaded_at=at,
        uploaded_by=by_user,
    )
    session.add(copy)
    session.flush()
    session.add(OcrQueueEntry(signed_copy_id=copy.id, enqueued_at=at, attempts=0, run=1))
    return copy


def queue_again(session: Session, copy: SignedCopy, at: datetime) -> int | None:
    """Queue the next recognition run of ``copy`` (the scan as stored, no new upload); None when
    one is already queued or at work."""
    busy = session.scalar(
        select(OcrQueueEntry.id).where(
            OcrQueueEntry.signed_copy_id == copy.id, OcrQueueEntry.done_at.is_(None)
        )
    )
    if busy is not None:
        return None
    last = session.scalar(
        select(func.max(OcrQueueEntry.run)).where(OcrQueueEntry.signed_copy_id == copy.id)
    )
    run = (last or 0) + 1
    session.add(OcrQueueEntry(signed_copy_id=copy.id, enqueued_at=at, attempts=0, run=run))
    return run


def superseded(session: Session, copy: SignedCopy) -> bool:
    """Whether a later version of the copy's document was uploaded (its recognition is moot)."""
    return (
        session.scalar(
            select(SignedCopy.id).where(
                SignedCopy.document_id == copy.document_id, SignedCopy.version > copy.version
            )
        )
        is not None
    )


def set_progress(session: Session, entry_id: int, pages_done: int) -> None:
    session.execute(
        update(OcrQueueEntry).where(OcrQueueEntry.id == entry_id).values(pages_done=pages_done)
    )


def add_review(session: Session, review: SignedCopyReview) -> None:
    session.add(review)


def missing_condition(signed_types: Collection[str]) -> Any:
    """SQL condition: a document of one of ``signed_types`` (those signed by hand on site,
    each needing its signed original) with no signed copy yet."""
    has_copy = select(SignedCopy.id).where(SignedCopy.document_id == Document.id).exists()
    return and_(Document.type.in_(sorted(signed_types)), ~has_copy)


def scan_text_digests(session: Session, doc_ids: list[str]) -> dict[str, str]:
    """Document id → recognised text (blob digest) of its newest recognised signed copy."""
    if not doc_ids:
        return {}
    rows = session.execute(
        select(SignedCopy.document_id, SignedCopy.version, SignedCopyOcr.text_sha256)
        .join(SignedCopyOcr, SignedCopyOcr.signed_copy_id == SignedCopy.id)
        .where(SignedCopy.document_id.in_(doc_ids), SignedCopyOcr.status == "done")
        .order_by(SignedCopy.version, SignedCopyOcr.run)
    ).all()
    return {doc_id: digest for doc_id, _version, digest in rows if digest}


# ---------------------------------------------------------------------------- the OCR queue


def pending_ocr(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(OcrQueueEntry).where(OcrQueueEntry.done_at.is_(None))
        )
        or 0
    )


def claim_next(session: Session, now: datetime, lease_seconds: float) -> OcrQueueEntry | None:
    """Claim the oldest queue entry nobody is working on (or whose worker's lease ran out)."""
    stale = now - timedelta(seconds=lease_seconds)
    candidates = session.scalars(
        select(OcrQueueEntry)
        .where(OcrQueueEntry.done_at.is_(None))
        .where(or_(OcrQueueEntry.claimed_at.is_(None), OcrQueueEntry.claimed_at < stale))
        .order_by(OcrQueueEntry.id)
        .limit(5)
    ).all()
    for entry in candidates:
        # Conditional update: of two recognisers racing for one entry, one wins.
        won = session.execute(
            update(OcrQueueEntry)
            .where(OcrQueueEntry.id == entry.id, OcrQueueEntry.done_at.is_(None))
            .where(or_(OcrQueueEntry.claimed_at.is_(None), OcrQueueEntry.claimed_at < stale))
            .values(claimed_at=now, attempts=OcrQueueEntry.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if won.rowcount == 1:  # type: ignore[attr-defined]
            session.refresh(entry)
            return entry
    return None


def release_claim(session: Session, entry_id: int) -> None:
    """Give an entry back after a failed attempt, so the next round retries it."""
    session.execute(
        update(OcrQueueEntry).where(OcrQueueEntry.id == entry_id).values(claimed_at=None)
    )


def finish(session: Session, entry_id: int, outcome: SignedCopyOcr, at: datetime) -> None:
    """Store the outcome and close the queue entry, in the caller's transaction."""
    session.add(outcome)
    finish_entry_only(session, entry_id, at)


def finish_entry_only(session: Session, entry_id: int, at: datetime) -> None:
    """Close a queue entry whose copy already has its outcome (settled by another worker)."""
    session.execute(update(OcrQueueEntry).where(OcrQueueEntry.id == entry_id).values(done_at=at))


# ---------------------------------------------------------------------------- verification


def copy_problems(
    session: Session, blobs: BlobStore, orgs: set[str] | None
) -> list[tuple[str, str | None, str]]:
    """(document id, its org's code, problem) for every signed-copy blob of ``orgs`` (None: every
    org) that is missing or altered, and every row that differs from what its audit event
    recorded (a swapped scan with the row edited).

    Read in one go: its memory is that of the signed copies (hand-signed originals, scanned and
    uploaded one by one) and their upload and OCR events, not of the archive's documents."""
    q = (
        select(SignedCopy, SignedCopyOcr, Org.code)
        .outerjoin(SignedCopyOcr, SignedCopyOcr.signed_copy_id == SignedCopy.id)
        .outerjoin(Document, Document.id == SignedCopy.document_id)
        .outerjoin(Org, Org.id == Document.org_id)
    )
    if orgs is not None:
        q = q.where(Org.code.in_(orgs))
    events = select(AuditEvent).where(AuditEvent.action.in_((UPLOAD_ACTION, OCR_ACTION)))
    rows = session.execute(q.order_by(SignedCopy.id)).all()
    recorded: dict[tuple[str, str, int, int], dict[str, Any]] = {}
    for ev in session.scalars(events):
        details = json.loads(ev.details)
        key = (int(details.get("version", 0)), int(details.get("run", 1)))
        recorded[(ev.action, str(ev.object_id), *key)] = details
    out: list[tuple[str, str | None, str]] = []
    for copy, ocr, org_code in rows:
        label = f"signed copy v{copy.version}" + (f" run {ocr.run}" if ocr and ocr.run > 1 else "")
        digests: list[tuple[str, str | None]] = [("scan", copy.sha256)]
        if ocr is not None:
            digests += [("OCR PDF", ocr.pdf_sha256), ("OCR text", ocr.text_sha256)]
        for kind, digest in digests:
            if digest is None:
                continue
            if not blobs.exists(digest):
                out.append(
                    (copy.document_id, org_code, f"{label}: {kind} blob {digest} is missing")
                )
            elif not blobs.verify(digest):
                out.append(
                    (
                        copy.document_id,
                        org_code,
                        f"{label}: {kind} blob {digest} does not match its sha256",
                    )
                )
        upload = recorded.get((UPLOAD_ACTION, copy.document_id, copy.version, 1))
        if upload is None or upload.get("sha256") != copy.sha256:
            out.append(
                (copy.document_id, org_code, f"{label}: scan hash differs from its upload event")
            )
        if ocr is not None and ocr.status == "done":
            event = recorded.get((OCR_ACTION, copy.document_id, copy.version, ocr.run))
            if event is None or (event.get("pdf_sha256"), event.get("text_sha256")) != (
                ocr.pdf_sha256,
                ocr.text_sha256,
            ):
                out.append(
                    (copy.document_id, org_code, f"{label}: OCR hashes differ from their event")
                )
    return list(dict.fromkeys(out))  # a copy recognised twice is one row per run

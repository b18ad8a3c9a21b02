"""Recognising signed copies from a durable queue, and checking them against their documents.

OCR takes seconds per page (``scripts/bench_ocr``), so an upload stores the scan and queues it;
the recogniser — a thread of ``wenshu serve``, or ``wenshu ocr`` — claims a queue entry, runs
ocrmypdf with the chosen engine (:mod:`service.documents.scans.recognise`) outside any
transaction, compares the scan page by page with the generated document
(:mod:`service.documents.scans.check`), writes the searchable PDF/A and the text as blobs, and
then in one transaction stores the outcome, closes the entry, appends the audit event and
queues the document for re-indexing. A crash mid-way leaves the entry claimed; once its lease
runs out the next recogniser takes it over. One recogniser at a time per data directory (a file
lock), at a lower CPU priority and ``WENSHU_OCR_JOBS`` pages at a time: OCR uses the cores
requests need too. An entry whose scan was replaced by a newer version before its turn is
settled as skipped, without OCR.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from archive import signed_copies as sc
from archive.audit import AuditChain
from archive.indexer import enqueue
from archive.locks import exclusive
from archive.models import Document, Org, SignedCopy, SignedCopyOcr
from service.doctypes import DOCTYPES
from service.documents.scans.check import compare_scan
from service.documents.scans.recognise import (
    JOBS,
    OcrFailed,
    Recognised,
    recognise,
    tidy_text,
)
from service.wiring import Wenshu
from service.workers.base import Worker

__all__ = ["JOBS", "OcrFailed", "Recognised", "Recogniser", "recognise", "tidy_text"]

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0
SKIPPED = "已有新版本，跳过识别"


class Recogniser(Worker):
    """Drains the OCR queue; ``start`` runs it as a thread polling every few seconds."""

    name = "wenshu-ocr"
    interval = POLL_SECONDS

    def __init__(self, ws: Wenshu) -> None:
        self.ws = ws
        self.lock_path = ws.settings.paths.run / "ocr.lock"
        self.lease = float(ws.settings.integrity.ocr_lease)
        self.engine = ws.settings.integrity.ocr_engine
        self.jobs = max(1, ws.settings.integrity.ocr_jobs)
        super().__init__()

    def drain(self, timeout: float = 1.0) -> int:
        """Recognise every queued scan; returns how many were settled (0 if another
        recogniser holds the lock for longer than ``timeout``)."""
        settled = 0
        with exclusive(self.lock_path, timeout) as got:
            if not got:
                return 0
            while not self.stopping:
                with self.ws.db.write() as s:
                    entry = sc.claim_next(s, self.ws.now(), self.lease)
                    if entry is None:
                        return settled
                    entry_id, attempts, run = entry.id, entry.attempts, entry.run
                    copy = s.get(SignedCopy, entry.signed_copy_id)
                    assert copy is not None
                    moot = sc.superseded(s, copy)
                if moot:
                    self._store(entry_id, copy, run, None, SKIPPED, skipped=True)
                else:
                    self._settle(entry_id, copy, attempts, run)
                settled += 1
        return settled

    def _settle(self, entry_id: int, copy: SignedCopy, attempts: int, run: int) -> None:
        def progress(pages_done: int) -> None:
            with self.ws.db.write() as s:
                sc.set_progress(s, entry_id, pages_done)

        try:
            result = recognise(
                self.ws.blobs.get(copy.sha256),
                pages=copy.pages,
                jobs=self.jobs,
                engine=self.engine,
                progress=progress,
            )
        except OcrFailed as exc:
            log.warning("OCR of signed copy %s failed (attempt %d): %s", copy.id, attempts, exc)
            if exc.permanent or attempts >= sc.MAX_ATTEMPTS:
                self._store(entry_id, copy, run, None, str(exc))
            else:
                with self.ws.db.write() as s:
                    sc.release_claim(s, entry_id)
            return
        self._store(entry_id, copy, run, result, None, comparison=self._compare(copy, result))

    def _compare(self, copy: SignedCopy, result: Recognised) -> dict[str, Any]:
        """The scan against its generated document; a check that cannot run says why (the
        recognition itself stands)."""
        with self.ws.db.read() as s:
            doc = s.get(Document, copy.document_id)
            assert doc is not None
            digest, doctype = doc.pdf_sha256, DOCTYPES.get(doc.type)
        labels = doctype.signatures if doctype else ()
        try:
            return compare_scan(
                self.ws.blobs.get(digest),
                result.pdf,
                result.page_texts,
                result.page_lines,
                labels,
            )
        except Exception as exc:  # recorded in the outcome and its event; the OCR stands
            log.exception("comparing signed copy %s with its document failed", copy.id)
            return {"status": "比对失败", "error": f"{type(exc).__name__}: {exc}"[:300]}

    def _store(
        self,
        entry_id: int,
        copy: SignedCopy,
        run: int,
        result: Recognised | None,
        error: str | None,
        *,
        comparison: dict[str, Any] | None = None,
        skipped: bool = False,
    ) -> None:
        pdf_digest = self.ws.blobs.put(result.pdf) if result else None
        text_digest = self.ws.blobs.put(result.text.encode("utf-8")) if result else None
        now = self.ws.now()
        status = "done" if result else ("skipped" if skipped else "failed")
        outcome = SignedCopyOcr(
            signed_copy_id=copy.id,
            run=run,
            status=status,
            engine=result.engine if result else None,
            pdf_sha256=pdf_digest,
            text_sha256=text_digest,
            rotated_pages=result.rotated_pages if result else [],
            seconds=result.seconds if result else 0.0,
            error=error,
            comparison=comparison,
            finished_at=now,
        )
        with self.ws.db.write() as s:
            if s.get(SignedCopyOcr, (copy.id, run)) is not None:  # settled by one we outlived
                sc.finish_entry_only(s, entry_id, now)
                return
            org = s.scalar(
                select(Org.code)
                .join(Document, Document.org_id == Org.id)
                .where(Document.id == copy.document_id)
            )
            sc.finish(s, entry_id, outcome, now)
            AuditChain.append(
                s,
                actor="system:ocr",
                action=sc.OCR_ACTION,
                org=org,
                object_id=copy.document_id,
                at=now,
                details={
                    "version": copy.version,
                    "run": run,
                    "status": outcome.status,
                    "engine": outcome.engine,
                    "pdf_sha256": pdf_digest,
                    "text_sha256": text_digest,
                    "rotated_pages": outcome.rotated_pages,
                    "error": error,
                    "comparison": _summary(comparison),
                },
            )
            if result:
                enqueue(s, copy.document_id, now)
        if result:
            self.ws.index_soon()

    def run_once(self) -> None:
        self.drain()


def _summary(comparison: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the audit event says of the comparison (the full one is in the outcome row)."""
    if comparison is None:
        return None
    return {
        "status": comparison.get("status"),
        "out_of_order": comparison.get("out_of_order"),
        "missing_pages": comparison.get("missing_pages"),
        "extra_pages": comparison.get("extra_pages"),
        "missing_signatures": comparison.get("missing_signatures"),
        "pages_with_differences": [
            p["page"] for p in comparison.get("pages", []) if p.get("differences")
        ],
    }

"""Recognising signed copies: ocrmypdf (Tesseract, Simplified Chinese) from a durable queue.

OCR takes seconds per page (``scripts/bench_ocr``), so an upload stores the scan and queues it;
the recogniser — a thread of ``wenshu serve``, or ``wenshu ocr`` — claims a queue entry, runs
ocrmypdf outside any transaction, writes the searchable PDF/A and the text as blobs, and then in
one transaction stores the outcome, closes the entry, appends the audit event and queues the
document for re-indexing. A crash mid-way leaves the entry claimed; once its lease runs out the
next recogniser takes it over. One recogniser at a time per data directory (a file lock): OCR
uses the cores requests need too.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from archive import signed_copies as sc
from archive.audit import AuditChain
from archive.indexer import enqueue
from archive.locks import exclusive
from archive.models import Document, Org, SignedCopy, SignedCopyOcr
from service.wiring import Wenshu
from service.workers.base import Worker

log = logging.getLogger(__name__)

LANGUAGE = "chi_sim"
JOBS = max(1, (os.cpu_count() or 2) // 2)
"""ocrmypdf's worker processes: half the cores, so requests keep the rest."""
MAX_IMAGE_MPIXELS = 100
POLL_SECONDS = 5.0
PERMANENT_EXIT_CODES = {2: "输入文件无法处理", 6: "文件已含文字层", 8: "PDF 已加密"}
"""ocrmypdf exit codes that retrying cannot cure (input file, prior OCR, encryption)."""
_ROTATED = re.compile(r"^\s*(\d+)\s+page is facing .*will rotate", re.MULTILINE)
_SKIPPED = re.compile(r"^\[OCR skipped on page\(s\) [0-9, -]+\]$", re.MULTILINE)
"""ocrmypdf's note in the sidecar for pages that already carry text (``--skip-text``)."""
_CJK = "\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef"
_GAP = re.compile(rf"(?<=[{_CJK}0-9])[ \t]*\n?[ \t]*(?=[{_CJK}])|(?<=[{_CJK}])[ \t]+(?=[0-9])")


class OcrFailed(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Recognised:
    pdf: bytes
    """The scan as PDF/A-2b with a text layer, pages turned upright."""
    text: str
    rotated_pages: list[int]
    seconds: float


def tidy_text(text: str) -> str:
    """Tesseract's Chinese output has spaces between characters and a line break at every
    printed line: join them, so words and phrases read as they do on paper."""
    text = _SKIPPED.sub("", text.replace("\f", "\n"))
    return _GAP.sub("", text).strip()


def recognise(pdf: bytes, *, pages: int, jobs: int = JOBS) -> Recognised:
    """Run ocrmypdf on ``pdf``: PDF/A output, rotation fixed, text from a sidecar file."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="wenshu-ocr-") as tmp:
        src, out, side = Path(tmp) / "in.pdf", Path(tmp) / "out.pdf", Path(tmp) / "text.txt"
        src.write_bytes(pdf)
        cmd = [
            "ocrmypdf",
            "-l", LANGUAGE,
            "--rotate-pages",
            "--skip-text",
            "--output-type", "pdfa-2",
            "--jobs", str(jobs),
            "--max-image-mpixels", str(MAX_IMAGE_MPIXELS),
            "--sidecar", str(side),
            str(src), str(out),
        ]  # fmt: skip
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=120 + 120 * pages)
        except subprocess.TimeoutExpired as exc:
            raise OcrFailed(f"识别超时（{exc.timeout:.0f} 秒）") from exc
        except FileNotFoundError as exc:
            raise OcrFailed("未安装 ocrmypdf（scripts/install 会安装）") from exc
        err = done.stderr.decode("utf-8", "replace")
        if done.returncode != 0 or not out.is_file():
            reason = PERMANENT_EXIT_CODES.get(done.returncode, "识别失败")
            last = err.strip().splitlines()[-1:] or [""]
            raise OcrFailed(
                f"{reason}（ocrmypdf 退出码 {done.returncode}）：{last[0][:300]}",
                permanent=done.returncode in PERMANENT_EXIT_CODES,
            )
        text = side.read_text(encoding="utf-8", errors="replace") if side.is_file() else ""
        if _SKIPPED.search(text):  # pages with a text layer of their own: take the output's
            text = _text_layer(out)
        return Recognised(
            pdf=out.read_bytes(),
            text=tidy_text(text),
            rotated_pages=sorted({int(n) for n in _ROTATED.findall(err)}),
            seconds=round(time.perf_counter() - started, 3),
        )


class Recogniser(Worker):
    """Drains the OCR queue; ``start`` runs it as a thread polling every few seconds."""

    name = "wenshu-ocr"
    interval = POLL_SECONDS

    def __init__(self, ws: Wenshu) -> None:
        self.ws = ws
        self.lock_path = ws.settings.paths.run / "ocr.lock"
        self.lease = float(ws.settings.integrity.ocr_lease)
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
                    entry_id, copy_id, attempts = entry.id, entry.signed_copy_id, entry.attempts
                    copy = s.get(SignedCopy, copy_id)
                    assert copy is not None
                self._settle(entry_id, copy, attempts)
                settled += 1
        return settled

    def _settle(self, entry_id: int, copy: SignedCopy, attempts: int) -> None:
        try:
            result = recognise(self.ws.blobs.get(copy.sha256), pages=copy.pages)
        except OcrFailed as exc:
            log.warning("OCR of signed copy %s failed (attempt %d): %s", copy.id, attempts, exc)
            if exc.permanent or attempts >= sc.MAX_ATTEMPTS:
                self._store(entry_id, copy, None, str(exc))
            else:
                with self.ws.db.write() as s:
                    sc.release_claim(s, entry_id)
            return
        self._store(entry_id, copy, result, None)

    def _store(
        self, entry_id: int, copy: SignedCopy, result: Recognised | None, error: str | None
    ) -> None:
        pdf_digest = self.ws.blobs.put(result.pdf) if result else None
        text_digest = self.ws.blobs.put(result.text.encode("utf-8")) if result else None
        now = self.ws.now()
        outcome = SignedCopyOcr(
            signed_copy_id=copy.id,
            status="done" if result else "failed",
            pdf_sha256=pdf_digest,
            text_sha256=text_digest,
            rotated_pages=result.rotated_pages if result else [],
            seconds=result.seconds if result else 0.0,
            error=error,
            finished_at=now,
        )
        with self.ws.db.write() as s:
            if s.get(SignedCopyOcr, copy.id) is not None:  # settled by a recogniser we outlived
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
                    "status": outcome.status,
                    "pdf_sha256": pdf_digest,
                    "text_sha256": text_digest,
                    "rotated_pages": outcome.rotated_pages,
                    "error": error,
                },
            )
            if result:
                enqueue(s, copy.document_id, now)
        if result:
            self.ws.index_soon()

    def run_once(self) -> None:
        self.drain()


def _text_layer(pdf: Path) -> str:
    """The text layer of an uploaded PDF (after ocrmypdf), read by poppler's pdftotext in a
    process of its own with a time limit: the file came from a user."""
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, timeout=60, check=True
    )
    return out.stdout.decode("utf-8", errors="replace").replace("\f", "\n")

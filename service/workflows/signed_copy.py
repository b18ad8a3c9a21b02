"""The hand-signed original of a record or transcript: upload, status and download.

The upload is inspected in full (:mod:`service.documents.scan`) before anything is written; then the scan
is written as a blob (write-once, sha256) and one transaction commits the signed-copy row, its
audit event and its OCR queue entry. Recognition follows in the background (:mod:`service.workers.ocr`),
and re-indexes the document with the scan's text when it is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archive import signed_copies as sc
from archive.audit import AuditChain
from archive.errors import ConflictError, Forbidden, NotFoundError, ValidationError
from archive.models import Document, Org, SignedCopyReview
from service import policy
from service.doctypes import DOCTYPES, HAND_SIGNED
from service.documents.scan import FIELD, inspect_upload
from service.wiring import Wenshu
from service.workflows.accounts import Principal
from service.workflows.records import DocumentView

REVIEW_KINDS = ("differences", "signature")
"""``differences``: the differences the comparison found were looked at; ``signature``: a
signature the check found missing is absent for the reason given (the page is settled)."""
FORMS = ("archival", "scan")
"""``archival``: the PDF/A with the recognised text layer (the scan itself until recognition is
done); ``scan``: the scan exactly as stored at upload."""


def authorise_upload(who: Principal, view: DocumentView) -> None:
    """A clerk or inspector of the document's org (or an admin); 403 otherwise."""
    if not policy.may(who.role, "signed_copies.upload"):
        raise Forbidden(f"角色 {who.role} 无权上传签字原件")
    if not who.may_see_org(view.org.code):
        raise Forbidden("无权访问其他机构的文书", reason="org")


def upload(
    ws: Wenshu, who: Principal, view: DocumentView, files: list[tuple[str, str, bytes]]
) -> int:
    """Store ``files`` (name, declared type, bytes) as the next version of the document's signed
    copy; returns the version."""
    authorise_upload(who, view)
    doc = view.doc
    if doc.type not in HAND_SIGNED:
        labels = "和".join(dt.label for dt in DOCTYPES.values() if dt.hand_signed)
        message = f"只有{labels}（现场手写签字的文书）需要上传签字原件"
        raise ValidationError(message, errors={FIELD: [message]})
    if view.withdrawal is not None:
        raise ConflictError("该文书已作废，不再接收签字原件", errors={FIELD: ["文书已作废"]})
    scan = inspect_upload(files)  # every check before the first byte is written
    digest = ws.blobs.put(scan.pdf)
    now = ws.now()
    with ws.db.write() as s:
        copy = sc.add_copy(
            s,
            doc,
            sha256=digest,
            source=scan.source,
            size=len(scan.pdf),
            pages=scan.pages,
            by_user=who.user_id,
            at=now,
        )
        AuditChain.append(
            s,
            actor=who.name,
            action=sc.UPLOAD_ACTION,
            org=view.org.code,
            object_id=doc.id,
            at=now,
            details={
                "version": copy.version,
                "sha256": digest,
                "source": scan.source,
                "files": len(files),
                "upload_bytes": scan.upload_bytes,
                "pages": scan.pages,
                "expected_pages": doc.page_count,
                "archive_no": doc.archive_no,
            },
        )
        return copy.version


@dataclass(frozen=True)
class ScanDownload:
    """A scan to send: its blob, its file name and what its ``document.download`` event says
    (the caller records it once the response is formed, so a failed answer leaves none)."""

    digest: str
    name: str
    details: dict[str, Any]


def download(ws: Wenshu, view: DocumentView, version: int | None, form: str) -> ScanDownload:
    """The asked version and form of the document's scan (404 when there is none)."""
    with ws.db.read() as s:
        state = sc.copy_version(s, view.doc.id, version)
    if state is None:
        what = f"第 {version} 版签字原件" if version else "签字原件"
        raise NotFoundError(f"该文书没有{what}")
    archival = form == "archival" and state.ocr is not None and state.ocr.status == "done"
    digest = state.ocr.pdf_sha256 if archival and state.ocr else state.copy.sha256
    assert digest is not None
    if not ws.blobs.exists(digest):
        raise NotFoundError("归档文件缺失，请联系审计员", errors={"file": [digest]})
    details = {
        "file": "signed_copy",
        "version": state.copy.version,
        "form": "archival" if archival else "scan",
        "sha256": digest,
    }
    name = f"{view.doc.archive_no}-签字原件-v{state.copy.version}.pdf"
    return ScanDownload(digest, name, details)


def recognise_again(ws: Wenshu, who: Principal, view: DocumentView) -> int:
    """Queue the latest version's scan for another recognition (no new upload); returns the
    run. 409 while one is queued or at work; 404 when there is no scan."""
    authorise_upload(who, view)
    return queue_again(ws, view.doc.id, actor=who.name)


def queue_again(ws: Wenshu, doc_id: str, *, actor: str) -> int:
    """:func:`recognise_again` without a user's check: ``wenshu ocr --again`` (the operator)."""
    now = ws.now()
    with ws.db.write() as s:
        doc = s.get(Document, doc_id)
        if doc is None:
            raise NotFoundError(f"没有文书 {doc_id}")
        org = s.get(Org, doc.org_id)
        state = sc.copy_version(s, doc_id, None)
        if state is None or org is None:
            raise NotFoundError("该文书没有签字原件")
        run = sc.queue_again(s, state.copy, now)
        if run is None:
            message = "该签字原件正在识别，请等识别完成后再试"
            raise ConflictError(message, errors={"ocr": [message]})
        AuditChain.append(
            s,
            actor=actor,
            action=sc.AGAIN_ACTION,
            org=org.code,
            object_id=doc_id,
            at=now,
            details={"version": state.copy.version, "run": run, "sha256": state.copy.sha256},
        )
        return run


def review(
    ws: Wenshu, who: Principal, view: DocumentView, kind: str, page: int | None, reason: str
) -> None:
    """Record that an inspector or auditor confirmed the latest recognition's comparison: the
    differences seen (``differences``), or a signature's absence on ``page`` with its reason
    (``signature``)."""
    if not policy.may(who.role, "signed_copies.review"):
        raise Forbidden(f"角色 {who.role} 无权确认签字原件的比对结果")
    if not who.may_see_org(view.org.code):
        raise Forbidden("无权访问其他机构的文书", reason="org")
    now = ws.now()
    with ws.db.write() as s:
        state = sc.copy_version(s, view.doc.id, None)
        comparison = state.ocr.comparison if state and state.ocr else None
        if state is None or state.ocr is None or not comparison:
            raise ConflictError("签字原件尚未识别比对，无可确认", errors={"kind": ["尚无比对结果"]})
        if kind == "signature":
            missing = comparison.get("missing_signatures") or []
            if page not in missing:
                message = f"第 {page} 页并未缺少签名" if page else "请指明缺少签名的页码"
                raise ValidationError(message, errors={"page": [message]})
        sc.add_review(
            s,
            SignedCopyReview(
                signed_copy_id=state.copy.id,
                run=state.ocr.run,
                kind=kind,
                page=page if kind == "signature" else None,
                reason=reason,
                reviewed_by=who.user_id,
                reviewed_at=now,
            ),
        )
        AuditChain.append(
            s,
            actor=who.name,
            action=sc.REVIEW_ACTION,
            org=view.org.code,
            object_id=view.doc.id,
            at=now,
            details={
                "version": state.copy.version,
                "run": state.ocr.run,
                "kind": kind,
                "page": page if kind == "signature" else None,
                "reason": reason,
                "comparison_status": comparison.get("status"),
            },
        )

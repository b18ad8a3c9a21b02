"""Reading the archive: one document, lists, files, verification — each read recorded."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from marshmallow import ValidationError as SchemaError
from sqlalchemy import func, select

from archive.audit import AuditChain
from archive.blobs import sha256_hex
from archive.certificates import trusted_certificates
from archive.errors import ConflictError, Forbidden, NotFoundError, OutsideOrg, ValidationError
from archive.indexer import enqueue
from archive.models import Document, Draft, Org, User, Withdrawal
from archive.signed_copies import CopyState, latest_copies
from schemas.fields import PlainText
from schemas.masking import mask_identifiers
from service import policy
from service.doctypes import HAND_SIGNED
from service.documents.pades import verify_pdf
from service.wiring import Wenshu
from service.workflows.accounts import Principal
from service.workflows.lists.documents import DocumentFilter, restrict
from service.workflows.lists.subjects import Subjects, list_title, subjects_of


@dataclass(frozen=True)
class DocumentView:
    doc: Document
    org: Org
    issued_by: str
    withdrawal: Withdrawal | None
    superseded_by: tuple[str, ...] = ()
    signed: CopyState | None = None
    """The latest signed copy (records and transcripts only)."""
    approval: dict[str, Any] | None = None
    """The 签发 of the draft it was issued from (None: issued without a draft)."""
    subjects: Subjects = Subjects()
    """Institution, person and day, from the archived input (what tells a list's rows apart)."""

    @property
    def list_title(self) -> str:
        return list_title(self.doc, self.org, self.subjects)

    @property
    def status_label(self) -> str:
        """有效, 已作废 or 已更正 (a later document supersedes it)."""
        if self.withdrawal is not None:
            return "已作废"
        return "已更正" if self.superseded_by else "有效"

    @property
    def owes_signed_copy(self) -> bool:
        """A live record or transcript whose hand-signed original is not archived yet."""
        return self.doc.type in HAND_SIGNED and self.signed is None and self.withdrawal is None


SIGNED_COPY_ARCHIVED = "已归档签字原件"
SIGNED_COPY_MISSING = "待上传签字原件"
OCR_LABELS = {
    None: "正在识别",
    "done": "已识别",
    "failed": "识别失败",
    "skipped": "未识别（已有新版本）",
}


def _iso(ws: Wenshu, at: Any) -> str | None:
    return ws.local_time(at).isoformat(timespec="seconds") if at else None


def to_json(ws: Wenshu, v: DocumentView, base_url: str = "/api/v1/documents") -> dict[str, Any]:
    d = v.doc
    return {
        "id": d.id,
        "type": d.type,
        "org": v.org.code,
        "case_no": d.case_no,
        "wenhao": d.wenhao,
        "archive_no": d.archive_no,
        "title": mask_identifiers(d.title),
        "list_title": v.list_title,
        "institution": v.subjects.institution,
        "person": v.subjects.person,
        "sha256": d.pdf_sha256,
        "issued_at": _iso(ws, d.issued_at),
        "issued_by": v.issued_by,
        "page_count": d.page_count,
        "retention": d.retention,
        "supersedes": d.supersedes,
        "superseded_by": list(v.superseded_by),
        "status": "withdrawn" if v.withdrawal else "issued",
        "withdrawal": (
            {"reason": v.withdrawal.reason, "withdrawn_at": _iso(ws, v.withdrawal.withdrawn_at)}
            if v.withdrawal
            else None
        ),
        "signed_copy": signed_copy_json(ws, v, base_url),
        "approval": v.approval,
        "seal_sha256": d.seal_sha256,
        "seal_drawn": d.seal_drawn,
        "template_sha256": d.template_sha256,
        "attachments": list(d.attachments or []),
        "links": {
            "self": f"{base_url}/{d.id}",
            "pdf": f"{base_url}/{d.id}/pdf",
            "docx": f"{base_url}/{d.id}/docx",
            "verify": f"{base_url}/{d.id}/verify",
        },
    }


def signed_copy_json(ws: Wenshu, view: DocumentView, base_url: str) -> dict[str, Any] | None:
    """The document's signed-copy status (None for types signed electronically only)."""
    doc = view.doc
    if doc.type not in HAND_SIGNED:
        return None
    links = {"upload": f"{base_url}/{doc.id}/signed-copy"}
    state = view.signed
    if state is None:
        return {
            "status": SIGNED_COPY_MISSING,
            "version": None,
            "pages": None,
            "expected_pages": doc.page_count,
            "page_mismatch": None,
            "sha256": None,
            "uploaded_at": None,
            "uploaded_by": None,
            "ocr": None,
            "links": links,
        }
    c, ocr, pending = state.copy, state.ocr, state.pending
    links["download"] = f"{base_url}/{doc.id}/signed-copy"
    links["scan"] = f"{base_url}/{doc.id}/signed-copy?form=scan"
    links["ocr_again"] = f"{base_url}/{doc.id}/signed-copy/ocr-again"
    links["review"] = f"{base_url}/{doc.id}/signed-copy/review"
    return {
        "status": SIGNED_COPY_ARCHIVED,
        "version": c.version,
        "source": c.source,
        "pages": c.pages,
        "expected_pages": c.expected_pages,
        "page_mismatch": c.pages != c.expected_pages,
        "sha256": c.sha256,
        "uploaded_at": ws.local_time(c.uploaded_at).isoformat(timespec="seconds"),
        "uploaded_by": state.uploaded_by,
        "ocr": {
            "status": OCR_LABELS[ocr.status if ocr else None],
            "done": bool(ocr and ocr.status == "done"),
            "pdf_sha256": ocr.pdf_sha256 if ocr else None,
            "rotated_pages": list(ocr.rotated_pages or []) if ocr else [],
            "error": ocr.error if ocr else None,
            "finished_at": (
                ws.local_time(ocr.finished_at).isoformat(timespec="seconds") if ocr else None
            ),
            "engine": ocr.engine if ocr else None,
            "run": ocr.run if ocr else None,
            "progress": (
                {"run": pending.run, "pages_done": pending.pages_done, "pages": c.pages}
                if pending
                else None
            ),
        },
        "comparison": comparison_json(ws, state),
        "links": links,
    }


def comparison_json(ws: Wenshu, state: CopyState) -> dict[str, Any] | None:
    """The latest recognition's page-by-page check, with the reviews recorded against it: a
    signature whose absence was confirmed with a reason no longer counts as missing."""
    ocr = state.ocr
    if ocr is None or not ocr.comparison:
        return None
    comparison = dict(ocr.comparison)
    reviews = [
        {
            "kind": r.kind,
            "page": r.page,
            "reason": r.reason,
            "reviewed_at": _iso(ws, r.reviewed_at),
        }
        for r in state.reviews
    ]
    excused = {r.page for r in state.reviews if r.kind == "signature"}
    missing = list(comparison.get("missing_signatures") or [])
    comparison["reviews"] = reviews
    comparison["confirmed"] = any(r.kind == "differences" for r in state.reviews)
    comparison["unexcused_missing_signatures"] = [p for p in missing if p not in excused]
    return comparison


def approvals(ws: Wenshu, s: Any, doc_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Document id → the 签发 of the draft it was issued from: who approved, when, the
    comment, how often it was returned first (``approved_by`` None: a type issued without)."""
    if not doc_ids:
        return {}
    rows = s.execute(
        select(Draft, User.name, User.full_name)
        .outerjoin(User, Draft.approved_by == User.id)
        .where(Draft.document_id.in_(doc_ids))
    ).all()
    return {
        d.document_id: {
            "draft_id": d.id,
            "approved_by": name,
            "approved_by_name": full_name or None,
            "approved_at": _iso(ws, d.approved_at),
            "comment": d.approval_comment,
            "returns": d.returns,
        }
        for d, name, full_name in rows
    }


def _query():  # type: ignore[no-untyped-def]
    return (
        select(Document, Org, User.name, Withdrawal)
        .join(Org, Document.org_id == Org.id)
        .join(User, Document.issued_by == User.id)
        .outerjoin(Withdrawal, Withdrawal.document_id == Document.id)
    )


def may_read(who: Principal) -> None:
    """Only the roles that work with documents read them: never an administrator (三员)."""
    if not policy.may(who.role, "documents.read"):
        raise Forbidden(f"角色 {who.role} 无权查阅文书")


def load(ws: Wenshu, who: Principal, doc_id: str) -> DocumentView:
    """The document, if the caller's org may see it (404 otherwise: no existence leak)."""
    may_read(who)
    with ws.db.read() as s:
        row = s.execute(_query().where(Document.id == doc_id)).first()
        if row is None:
            raise NotFoundError("文书不存在")
        if not who.may_see_org(row[1].code):
            raise OutsideOrg("文书不存在", org=row[1].code, object_id=doc_id)
        later = s.scalars(
            select(Document.id).where(Document.supersedes == doc_id).order_by(Document.issued_at)
        )
        signed = latest_copies(s, [doc_id]).get(doc_id)
        approval = approvals(ws, s, [doc_id]).get(doc_id)
        doc, org, issued_by, withdrawal = row
        return DocumentView(
            doc, org, issued_by, withdrawal, tuple(later), signed, approval, subjects_of(ws, doc)
        )


def record_read(
    ws: Wenshu, who: Principal, action: str, v: DocumentView, details: dict[str, Any] | None = None
) -> None:
    """Every view, download and verification of a document is an audit event."""
    with ws.db.write() as s:
        AuditChain.append(
            s,
            actor=who.name,
            action=action,
            org=v.org.code,
            object_id=v.doc.id,
            details=details or {},
        )


def listing(
    ws: Wenshu,
    who: Principal,
    *,
    type: str | None,
    case_no: str | None,
    org: str | None,
    page: int,
    per_page: int,
    signed_copy: str | None = None,
    flt: DocumentFilter | None = None,
) -> tuple[int, list[DocumentView]]:
    """A page of the caller's documents narrowed by ``flt`` (``type``/``case_no`` add to it;
    ``signed_copy="missing"``: those still owing their hand-signed original)."""
    may_read(who)
    flt = flt or DocumentFilter()
    flt = replace(
        flt,
        type=type or flt.type,
        case_no=case_no or flt.case_no,
        status="signed_copy_missing" if signed_copy == "missing" else flt.status,
    )
    q = _query()
    if org and org != who.org_code:
        raise Forbidden("无权访问其他机构的文书", reason="org")
    q = q.where(Org.code == who.org_code)
    orgs: list[str] | None = [who.org_code]
    q = restrict(ws, q, flt, orgs)
    with ws.db.read() as s:
        total = int(s.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0)
        rows = s.execute(q.offset((page - 1) * per_page).limit(per_page)).all()
        ids = [r[0].id for r in rows]
        signed = latest_copies(s, [r[0].id for r in rows if r[0].type in HAND_SIGNED])
        approved = approvals(ws, s, ids)
        later: dict[str, list[str]] = {}
        if ids:
            for new_id, old_id in s.execute(
                select(Document.id, Document.supersedes)
                .where(Document.supersedes.in_(ids))
                .order_by(Document.issued_at)
            ):
                later.setdefault(old_id, []).append(new_id)
    return total, [
        DocumentView(
            doc,
            org,
            issued_by,
            withdrawal,
            superseded_by=tuple(later.get(doc.id, ())),
            signed=signed.get(doc.id),
            approval=approved.get(doc.id),
            subjects=subjects_of(ws, doc),
        )
        for doc, org, issued_by, withdrawal in rows
    ]


def verification(ws: Wenshu, v: DocumentView) -> dict[str, Any]:
    """Hash of the stored PDF against the record, and its signature against the org certificate."""
    d = v.doc
    if not ws.blobs.exists(d.pdf_sha256):
        return {
            "sha256_ok": False,
            "sha256": d.pdf_sha256,
            "signature": {
                "intact": False,
                "valid": False,
                "trusted": False,
                "signer": None,
                "signed_at": None,
            },
            "problems": ["签章文件缺失"],
        }
    pdf = ws.blobs.get(d.pdf_sha256)
    sha_ok = sha256_hex(pdf) == d.pdf_sha256
    with ws.db.read() as s:
        trusted = trusted_certificates(s, {v.org.code}).get(v.org.code, [])
    report = verify_pdf(pdf, trusted_certs=trusted)
    problems = []
    if not sha_ok:
        problems.append("文件哈希与归档记录不符（文件被改动）")
    if not report.ok:
        if report.intact and report.valid and report.trusted and not report.covers_whole_file:
            problems.append("签名之后文件被追加修改（签名未覆盖全部内容）")
        else:
            problems.append(report.error or "签名未通过验证")
    return {
        "sha256_ok": sha_ok,
        "sha256": d.pdf_sha256,
        "signature": {
            "intact": report.intact,
            "valid": report.valid,
            "trusted": report.trusted,
            "signer": report.signer,
            "signed_at": report.signed_at.isoformat() if report.signed_at else None,
            "covers_whole_file": report.covers_whole_file,
        },
        "problems": problems,
    }


def withdraw(ws: Wenshu, who: Principal, v: DocumentView, reason: str) -> None:
    """作废: the document and its number stay; a withdrawal row marks it, on record."""
    try:  # the web form comes here without the API's schema
        reason = PlainText(required=True, max_length=2000).deserialize(reason)
    except SchemaError as exc:
        raise ValidationError("作废理由有误", errors={"reason": exc.messages}) from exc
    with ws.db.write() as s:
        if s.get(Withdrawal, v.doc.id) is not None:
            raise ConflictError("该文书已作废")
        now = ws.now()
        s.add(
            Withdrawal(
                document_id=v.doc.id, reason=reason, withdrawn_at=now, withdrawn_by=who.user_id
            )
        )
        AuditChain.append(
            s,
            actor=who.name,
            action="document.withdraw",
            org=v.org.code,
            object_id=v.doc.id,
            at=now,
            details={"reason": reason, "wenhao": v.doc.wenhao, "archive_no": v.doc.archive_no},
        )
        enqueue(s, v.doc.id, now)

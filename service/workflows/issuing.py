"""issue(): from validated input to a numbered, signed, archived, indexed document.

1. one short write transaction reserves the 发文字号 (notices) and the 档号;
2. render, convert and sign run with no database lock held;
3. the blobs are written (fsync, rename) before anything refers to them;
4. one write transaction marks the numbers used, inserts the document row, appends the audit
   event and queues the index update — all of it or none of it;
5. on any failure the numbers are released on record (and reused by the next request).

A document issued from a draft (``service/workflows/drafts.py``) carries an :class:`IssueClaim`:
the draft is claimed before step 1, and the claim's ``commit`` marks it issued inside the
transaction of step 4, so the draft is issued exactly when its document exists.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, NamedTuple, Protocol

from sqlalchemy.orm import Session

from archive import numbering
from archive.audit import AuditChain
from archive.blobs import sha256_hex
from archive.errors import NotFoundError, ValidationError
from archive.indexer import enqueue
from archive.models import Document, Org, new_id
from service.doctypes import DocType
from service.documents.pades import sign_pdf
from service.documents.render import Letterhead, Typeset
from service.documents.watermark import watermark_draft
from service.wiring import Wenshu
from service.workflows.accounts import Principal
from service.workflows.cases import require_case
from service.workflows.files import attachments as files
from service.workflows.files.seals import Seal, current_seal
from service.workflows.files.templates import ActiveTemplate, active_template, keep

log = logging.getLogger(__name__)


class IssueClaim(Protocol):
    """What a document is issued from and holds for the length of one issue (a draft)."""

    def details(self) -> dict[str, Any]:
        """Recorded in the ``document.issue`` event and the archived input record."""
        ...

    def commit(self, session: Session, doc: Document) -> None:
        """Run in the transaction that archives ``doc``; raising aborts the whole issue."""
        ...


@dataclass(frozen=True)
class IssueRequest:
    doctype: DocType
    org_code: str
    data: dict[str, Any]  # validated, normalised by the type's schema
    raw: dict[str, Any]  # as the client sent it, archived as the input record
    case_no: str | None = None
    supersedes: str | None = None
    claim: IssueClaim | None = None
    """The draft it is issued from, claimed by this request (None: issued directly)."""


class _Parts(NamedTuple):
    """What an issued document is made of besides its input, as the archive held it when
    the issue began: the file attachments, the seal and the template."""

    attached: files.Attachments
    seal: Seal
    template: ActiveTemplate


def letterhead(org: Org) -> Letterhead:
    return Letterhead(name=org.name, mark=org.mark, zihao=org.zihao)


def _typeset(
    ws: Wenshu,
    req: IssueRequest,
    org: Org,
    data: dict[str, Any],
    *,
    wenhao: str,
    issue_date: date,
    seal: Seal | None,
    pdfa: bool,
    template: ActiveTemplate,
    archive_no: str = "",
) -> Typeset:
    """The DOCX (the type's template filled with the data and its derived title, literally)
    and the PDF the converter makes of it, ending on an even page when the type must, with
    the PDF's pages as the converter counted them."""
    data = {**data, "title": req.doctype.title(req.data, org)}
    return req.doctype.typeset(
        data,
        ws.converter.pdf_maker(pdfa=pdfa),
        org=letterhead(org),
        wenhao=wenhao,
        issue_date=issue_date,
        seal_png=seal.png if seal is not None else None,
        archive_no=archive_no,
        template_docx=None if template.default else template.docx,
    )


def _prints_seal(docx: bytes) -> bool:
    """Whether the rendered document carries the seal picture (records and transcripts,
    signed by hand, do not)."""
    with zipfile.ZipFile(io.BytesIO(docx)) as z:
        return b'descr="\xe5\x85\xac\xe7\xab\xa0"' in z.read("word/document.xml")  # 公章


def _check_date_year(doctype: DocType, signed_on: date, year: int, *, approved: bool) -> None:
    """GB/T 9704: the 成文日期 and the 发文字号 belong to one year — a numbered document
    issued after 签发 may not be dated in another year than its number's."""
    if approved and doctype.numbered and signed_on.year != year:
        raise ValidationError(
            f"成文日期须在发文字号的年度（{year} 年）内",
            errors={"data": {"date": [f"成文日期须在 {year} 年内"]}},
        )


def preview(
    ws: Wenshu,
    req: IssueRequest,
    org: Org,
    *,
    seal: Seal | None = None,
    template: ActiveTemplate | None = None,
) -> bytes:
    """The final layout, watermarked 草稿, with placeholder numbers and the file attachments
    laid in; sealed only when ``seal`` is given (a seal before it is taken on); from the org's
    active template, or ``template`` (a version before it is taken on). The number's year is
    this year's, as at issue, and a typed 成文日期 of another year is refused as issue refuses
    it. Consumes and stores nothing."""
    today = ws.local_date(ws.now())
    approved = req.doctype.needs_approval_in(ws.settings.approval)
    _check_date_year(req.doctype, req.data.get("date") or today, today.year, approved=approved)
    wenhao = numbering.format_wenhao(org.zihao, today.year, None) if req.doctype.numbered else ""
    with ws.db.read() as s:
        attached = files.resolve(ws, s, org, req.data)
        if template is None:
            template = active_template(ws, s, org, req.doctype)
    pdf = _typeset(
        ws,
        req,
        org,
        attached.data,
        wenhao=wenhao,
        issue_date=today,
        seal=seal,
        pdfa=False,
        template=template,
    ).pdf
    pdf = files.lay_into(req.doctype, pdf, attached, None if template.default else template.docx)
    return watermark_draft(pdf)


def _reserve(ws: Wenshu, org: Org, doctype: DocType, year: int) -> list[numbering.Reservation]:
    lease = _lease(ws)
    retention = doctype.retention_in(ws.settings.retention)
    with ws.db.write() as s:
        taken = []
        if doctype.numbered:
            taken.append(
                numbering.reserve(
                    s, numbering.wenhao_series(org.code, org.zihao, year), now=ws.now(), lease=lease
                )
            )
        taken.append(
            numbering.reserve(
                s,
                numbering.archive_series(org.fonds_no, year, retention, org.unit_code),
                now=ws.now(),
                lease=lease,
            )
        )
        return taken


def _lease(ws: Wenshu) -> timedelta:
    return timedelta(seconds=ws.settings.integrity.reservation_lease)


def issue(ws: Wenshu, req: IssueRequest, who: Principal) -> Document:
    with ws.db.read() as s:
        org = s.query(Org).filter_by(code=req.org_code).one_or_none()
        if org is None:
            raise NotFoundError(f"机构 {req.org_code} 不存在", errors={"org": ["机构不存在"]})
        if req.supersedes is not None:
            old = s.get(Document, req.supersedes)
            if old is None or old.org_id != org.id:
                raise ValidationError("被更正的文书不存在", errors={"supersedes": ["文书不存在"]})
            if old.type != req.doctype.code:
                raise ValidationError(
                    "更正文书须与原文书类型相同", errors={"supersedes": ["文书类型不同"]}
                )
        if req.case_no is not None:
            require_case(s, org, req.case_no)
        # What the document is made of, read with the org: one read session per issue.
        parts = _Parts(
            files.resolve(ws, s, org, req.data),
            current_seal(ws, s, org),
            active_template(ws, s, org, req.doctype),
        )
    signer = req.doctype.approver_field(req.data)
    if signer is not None and not req.data.get(signer):
        raise ValidationError(
            "上行文须标注签发人", errors={"data": {signer: ["上行文须填写签发人姓名"]}}
        )
    key_pem, cert_pem = ws.keys.load(org.code)
    started = ws.now()
    issue_date: date = req.data.get("date") or ws.local_date(started)
    year = ws.local_date(started).year
    _check_date_year(req.doctype, issue_date, year, approved=req.claim is not None)
    reservations = _reserve(ws, org, req.doctype, year)
    try:
        doc = _produce_and_commit(
            ws, req, who, org, parts, reservations, issue_date, year, key_pem, cert_pem
        )
    except BaseException as exc:
        reason = f"{type(exc).__name__}: {exc}"
        try:
            with ws.db.write() as s:
                for r in reservations:
                    numbering.release(s, r, reason)
                AuditChain.append(
                    s,
                    actor=who.name,
                    action="document.issue_failed",
                    org=org.code,
                    details={
                        "type": req.doctype.code,
                        "numbers": [f"{r.series}#{r.n}" for r in reservations],
                        "reason": reason[:500],
                    },
                )
        except Exception:  # the lease will expire and the number is reused; say so loudly
            log.exception("could not release reservations %s", reservations)
        raise
    return doc


def _produce_and_commit(
    ws: Wenshu,
    req: IssueRequest,
    who: Principal,
    org: Org,
    parts: _Parts,
    reservations: list[numbering.Reservation],
    issue_date: date,
    year: int,
    key_pem: bytes,
    cert_pem: bytes,
) -> Document:
    retention = req.doctype.retention_in(ws.settings.retention)
    wenhao = (
        numbering.format_wenhao(org.zihao, year, reservations[0].n)
        if req.doctype.numbered
        else None
    )
    archive_res = reservations[-1]
    archive_no = numbering.format_archive_no(
        org.fonds_no, year, retention, org.unit_code, archive_res.n
    )

    attached, seal, template = parts
    keep(ws, template)
    docx, pdf, pages = _typeset(
        ws,
        req,
        org,
        attached.data,
        wenhao=wenhao or "",
        issue_date=issue_date,
        seal=seal,
        pdfa=True,
        template=template,
        archive_no=archive_no,
    )
    sealed = _prints_seal(docx)
    # The file attachments go under the pages left for them: the page count stays the same.
    pdf = files.lay_into(req.doctype, pdf, attached, None if template.default else template.docx)
    signed = sign_pdf(
        pdf,
        key_pem=key_pem,
        cert_pem=cert_pem,
        reason=f"签发 {wenhao or archive_no}",
        location=org.name,
    )
    record: dict[str, Any] = {
        "type": req.doctype.code,
        "org": org.code,
        "case_no": req.case_no,
        "supersedes": req.supersedes,
        "data": req.raw,
    }
    claimed = req.claim.details() if req.claim is not None else {}
    if claimed:
        record["approval"] = claimed
    input_record = json.dumps(
        record,
        ensure_ascii=False,
        sort_keys=True,
    ).encode("utf-8")
    hashes = {
        name: ws.blobs.put(blob)
        for name, blob in (("input", input_record), ("docx", docx), ("pdf", signed))
    }
    assert hashes["pdf"] == sha256_hex(signed)

    doc_id = new_id()
    issued_at = ws.now()
    with ws.db.write() as s:
        for r in reservations:
            numbering.consume(s, r, doc_id)
        doc = Document(
            id=doc_id,
            type=req.doctype.code,
            org_id=org.id,
            case_no=req.case_no,
            title=req.doctype.title(req.data, org),
            wenhao=wenhao,
            archive_no=archive_no,
            retention=retention,
            input_sha256=hashes["input"],
            docx_sha256=hashes["docx"],
            pdf_sha256=hashes["pdf"],
            page_count=pages,
            supersedes=req.supersedes,
            facts=req.doctype.facts(req.data),
            issued_at=issued_at,
            issued_by=who.user_id,
            seal_sha256=seal.sha256 if sealed else None,
            seal_drawn=seal.drawn if sealed else None,
            attachments=list(attached.listing) or None,
            template_sha256=template.sha256,
        )
        s.add(doc)
        s.flush()
        if req.claim is not None:
            req.claim.commit(s, doc)
        AuditChain.append(
            s,
            actor=who.name,
            action="document.issue",
            org=org.code,
            object_id=doc_id,
            at=issued_at,
            details={
                "type": doc.type,
                "wenhao": wenhao,
                "archive_no": archive_no,
                "pdf_sha256": hashes["pdf"],
                "docx_sha256": hashes["docx"],
                "input_sha256": hashes["input"],
                "supersedes": req.supersedes,
                "seal_sha256": seal.sha256 if sealed else None,
                "seal_drawn": seal.drawn if sealed else None,
                "template_sha256": template.sha256,
                "attachments": [
                    {k: a[k] for k in ("n", "sha256", "upload_id", "document_id") if k in a}
                    for a in attached.listing
                    if "sha256" in a
                ],
                **claimed,
            },
        )
        enqueue(s, doc_id, issued_at)
    return doc

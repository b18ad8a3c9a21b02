"""Cases: the documents of one inspection, in order, with a completeness check."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from archive.audit import AuditChain
from archive.errors import ConflictError, NotFoundError, ValidationError
from archive.models import Case, Document, Org
from schemas.masking import mask_identifiers
from service.doctypes import DOCTYPES, HAND_SIGNED
from service.wiring import Wenshu
from service.workflows import records
from service.workflows.accounts import Principal, get_org

#: What a complete case holds, in the registry's order: (type, label, at least how many),
#: from the case role each type declares.
REQUIRED = tuple(
    (dt.code, dt.case_role.label or dt.label, dt.case_role.minimum)
    for dt in DOCTYPES.values()
    if dt.case_role is not None
)


def create_case(
    ws: Wenshu, who: Principal, *, org_code: str, case_no: str, title: str
) -> dict[str, Any]:
    with ws.db.write() as s:
        org = get_org(s, org_code)
        if s.scalar(select(Case).where(Case.org_id == org.id, Case.case_no == case_no)) is not None:
            raise ConflictError(
                f"案件编号 {case_no} 已存在", errors={"case_no": ["案件编号已存在"]}
            )
        case = Case(
            org_id=org.id, case_no=case_no, title=title, created_at=ws.now(), created_by=who.user_id
        )
        s.add(case)
        AuditChain.append(
            s,
            actor=who.name,
            action="case.create",
            org=org.code,
            object_id=case_no,
            details={"title": title},
        )
    return {
        "case_no": case_no,
        "title": title,
        "org": org_code,
        "created_at": ws.local_time(case.created_at).isoformat(timespec="seconds"),
    }


def require_case(session: Any, org: Org, case_no: str) -> Case:
    case = session.scalar(select(Case).where(Case.org_id == org.id, Case.case_no == case_no))
    if case is None:
        raise ValidationError(
            f"案件 {case_no} 不存在，请先创建案件", errors={"case_no": ["案件不存在"]}
        )
    return case


def list_cases(ws: Wenshu, who: Principal, *, page: int, per_page: int) -> dict[str, Any]:
    records.may_read(who)
    q = select(Case, Org.code).join(Org, Case.org_id == Org.id).where(Org.code == who.org_code)
    with ws.db.read() as s:
        total = int(s.scalar(select(func.count()).select_from(q.subquery())) or 0)
        rows = s.execute(
            q.order_by(Case.created_at.desc()).offset((page - 1) * per_page).limit(per_page)
        ).all()
        # a case number is unique within its org only: count each org's own documents
        counts = {
            (org_id, case_no): n
            for org_id, case_no, n in s.execute(
                select(Document.org_id, Document.case_no, func.count())
                .where(Document.case_no.in_([c.case_no for c, _ in rows]))
                .group_by(Document.org_id, Document.case_no)
            )
        }
    return {
        "total": total,
        "page": page,
        "per_page": per_page,
        "items": [
            {
                "case_no": c.case_no,
                "title": mask_identifiers(c.title),
                "org": code,
                "documents": counts.get((c.org_id, c.case_no), 0),
                "created_at": ws.local_time(c.created_at).isoformat(timespec="seconds"),
            }
            for c, code in rows
        ],
    }


def case_detail(ws: Wenshu, who: Principal, case_no: str) -> dict[str, Any]:
    records.may_read(who)
    with ws.db.read() as s:
        q = (
            select(Case, Org)
            .join(Org, Case.org_id == Org.id)
            .where(Case.case_no == case_no, Org.code == who.org_code)
        )
        row = s.execute(q).first()
        if row is None:
            raise NotFoundError("案件不存在")
        case, org = row
    total, views = records.listing(
        ws, who, type=None, case_no=case_no, org=org.code, page=1, per_page=1000
    )
    views.sort(key=lambda v: (v.doc.issued_at, v.doc.id))
    live = [v for v in views if v.withdrawal is None]
    lacking = [label for t, label, n in REQUIRED if sum(1 for v in live if v.doc.type == t) < n]
    # Records and transcripts are signed by hand on site: each needs its signed original.
    unsigned = [v for v in live if v.doc.type in HAND_SIGNED and v.signed is None]
    lacking += [f"{DOCTYPES[v.doc.type].label}签字原件（{v.doc.archive_no}）" for v in unsigned]
    # …and on its signed original every required signature, or a confirmed reason for its absence.
    unsigned_pages = {v.doc.id: _unexcused(v) for v in live if v.signed is not None}
    unsigned_pages = {doc_id: pages for doc_id, pages in unsigned_pages.items() if pages}
    lacking += [
        f"{DOCTYPES[v.doc.type].label}签名（{v.doc.archive_no}，扫描件第 "
        f"{'、'.join(str(n) for n in unsigned_pages[v.doc.id])} 页）"
        for v in live
        if v.doc.id in unsigned_pages
    ]
    return {
        "case_no": case.case_no,
        "title": mask_identifiers(case.title),
        "org": org.code,
        "documents": [records.to_json(ws, v) for v in views],
        "complete": not lacking,
        "lacking": lacking,
        "signed_copies_missing": [v.doc.id for v in unsigned],
        "signatures_missing": [
            {"id": doc_id, "pages": pages} for doc_id, pages in unsigned_pages.items()
        ],
    }


def _unexcused(v: records.DocumentView) -> list[int]:
    """Scanned pages of the latest recognised signed copy that lack a required signature and
    whose absence nobody has confirmed with a reason."""
    state = v.signed
    if state is None or state.ocr is None or not state.ocr.comparison:
        return []
    excused = {r.page for r in state.reviews if r.kind == "signature"}
    missing = state.ocr.comparison.get("missing_signatures") or []
    return [int(n) for n in missing if n not in excused]

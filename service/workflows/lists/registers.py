"""The 发文登记簿 (every 发文字号 of an org's year, in order, with voided and withdrawn numbers in
their place) and the 文书 list as a table — what an 办公室 hands to leaders and auditors.

Every register read and every export is an audit event (``register.dispatch``,
``documents.export``), with the filters used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from archive import numbering
from archive.audit import AuditChain
from archive.errors import OutsideOrg, ValidationError
from archive.models import Document, NumberReservation, Org, Withdrawal
from service.doctypes import DOCTYPES, HAND_SIGNED
from service.wiring import Wenshu
from service.workflows import cases, records
from service.workflows.accounts import Principal, get_org
from service.workflows.lists.documents import STATUSES, DocumentFilter
from service.workflows.lists.subjects import chinese_date
from service.workflows.lists.tables import Table

#: a 发文字号 that is on no document of the archive
UNUSED = {
    "voided": "空号（已注销）",
    "in_flight": "发文中",
    "released": "待重用",
    "missing": "缺号（无记录）",
}


@dataclass(frozen=True)
class DispatchLine:
    n: int
    wenhao: str
    status: str
    """有效, 已作废, 已更正, or what became of a number on no document (:data:`UNUSED`)."""
    document_id: str | None = None
    title: str = ""
    approver: str = ""
    made_on: date | None = None
    """成文日期: the date printed (the day of the 签发)."""
    secrecy: str = ""
    addressees: str = ""
    copies: int | None = None
    """份数: not recorded by the archive (paper copies are counted by the 印发 office)."""
    pages: int | None = None
    archive_no: str = ""
    note: str = ""
    """The reason a number was voided or a document withdrawn."""


@dataclass(frozen=True)
class DispatchRegister:
    org: str
    org_name: str
    year: int
    zihao: tuple[str, ...]
    lines: list[DispatchLine]


def dispatch(ws: Wenshu, who: Principal, org_code: str | None, year: int) -> DispatchRegister:
    """The org's 发文登记簿 of ``year``: each series of its 机关代字, number by number."""
    records.may_read(who)
    org_code = org_code or who.org_code
    if not 2000 <= year <= 2100:
        raise ValidationError("年度有误", errors={"year": ["年度应在 2000–2100 之间"]})
    if not who.may_see_org(org_code):
        raise OutsideOrg("机构不存在", org=org_code, object_id=org_code)
    with ws.db.read() as s:
        org = get_org(s, org_code)
        names = [
            n
            for n in numbering.series_names(s, f"wenhao/{org.code}/")
            if n.rsplit("/", 1)[-1] == str(year)
        ]
        lines: list[DispatchLine] = []
        zihao: list[str] = []
        for name in names:
            z = "/".join(name.split("/")[2:-1])
            zihao.append(z)
            lines += _series_lines(ws, s, org, name, z, year)
    register = DispatchRegister(org.code, org.name, year, tuple(zihao), lines)
    with ws.db.write() as s:
        AuditChain.append(
            s,
            actor=who.name,
            action="register.dispatch",
            org=org.code,
            details={"year": year, "numbers": len(lines)},
        )
    return register


def _series_lines(
    ws: Wenshu, s: Any, org: Org, name: str, zihao: str, year: int
) -> list[DispatchLine]:
    acc = numbering.account(s, name)
    used = dict(
        s.execute(
            select(NumberReservation.n, NumberReservation.document_id).where(
                NumberReservation.series == name, NumberReservation.status == numbering.USED
            )
        ).all()
    )
    ids = [i for i in used.values() if i]
    docs = {d.id: d for d in s.scalars(select(Document).where(Document.id.in_(ids)))}
    withdrawn = {
        w.document_id: w
        for w in s.scalars(select(Withdrawal).where(Withdrawal.document_id.in_(ids)))
    }
    superseded = set(s.scalars(select(Document.supersedes).where(Document.supersedes.in_(ids))))
    approved = records.approvals(ws, s, ids)
    other = {n: "in_flight" for n in acc.in_flight} | {n: "released" for n in acc.released}
    other |= {n: "missing" for n in acc.missing}
    voided = {int(str(v["n"])): str(v["reason"] or "") for v in acc.voided}
    out = []
    for n in range(1, acc.next_n):
        wenhao = numbering.format_wenhao(zihao, year, n)
        doc = docs.get(used.get(n) or "")
        if doc is None:
            kind = "voided" if n in voided else other.get(n, "missing")
            out.append(DispatchLine(n, wenhao, UNUSED[kind], note=voided.get(n, "")))
            continue
        data = _input(ws, doc)
        approval = approved.get(doc.id) or {}
        w = withdrawn.get(doc.id)
        status = "已作废" if w else ("已更正" if doc.id in superseded else "有效")
        out.append(
            DispatchLine(
                n,
                doc.wenhao or wenhao,
                status,
                document_id=doc.id,
                title=doc.title,
                approver=approval.get("approved_by_name") or approval.get("approved_by") or "",
                made_on=_made_on(ws, doc, data, approval),
                secrecy=str(data.get("secrecy") or "") or "—",
                addressees="、".join(str(a) for a in data.get("addressees") or []),
                pages=doc.page_count,
                archive_no=doc.archive_no,
                note=w.reason if w else "",
            )
        )
    return out


def _input(ws: Wenshu, doc: Document) -> dict[str, Any]:
    try:
        data = json.loads(ws.blobs.get(doc.input_sha256)).get("data")
    except (OSError, ValueError, KeyError, AttributeError):
        return {}
    return data if isinstance(data, dict) else {}


def _made_on(ws: Wenshu, doc: Document, data: dict[str, Any], approval: dict[str, Any]) -> date:
    for value in (data.get("date"), (approval.get("approved_at") or "")[:10]):
        if isinstance(value, str) and value:
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
    return ws.local_date(doc.issued_at)


DISPATCH_HEADERS = (
    "序号",
    "发文字号",
    "标题",
    "签发人",
    "成文日期",
    "密级",
    "主送机关",
    "份数",
    "页数",
    "状态",
    "档号",
    "备注",
)


def dispatch_table(register: DispatchRegister) -> Table:
    return Table(
        name=f"{register.year}年发文登记簿",
        headers=DISPATCH_HEADERS,
        rows=[
            (
                x.n,
                x.wenhao,
                x.title,
                x.approver,
                chinese_date(x.made_on) if x.made_on else "",
                x.secrecy if x.document_id else "",
                x.addressees,
                x.copies,
                x.pages,
                x.status,
                x.archive_no,
                x.note,
            )
            for x in register.lines
        ],
        widths=(6, 22, 48, 10, 16, 8, 30, 6, 6, 14, 26, 30),
    )


DOCUMENT_HEADERS = (
    "发文字号 / 档号",
    "标题",
    "类型",
    "案件编号",
    "被检查机构",
    "当事人",
    "签发时间",
    "签发人员",
    "状态",
    "签字原件",
)


def documents_table(ws: Wenshu, views: list[records.DocumentView]) -> Table:
    return Table(
        name="文书",
        headers=DOCUMENT_HEADERS,
        rows=[
            (
                v.doc.wenhao or v.doc.archive_no,
                v.list_title,
                DOCTYPES[v.doc.type].label if v.doc.type in DOCTYPES else v.doc.type,
                v.doc.case_no,
                v.subjects.institution,
                v.subjects.person,
                ws.local_time(v.doc.issued_at).replace(tzinfo=None),
                v.issued_by,
                v.status_label,
                (records.SIGNED_COPY_MISSING if v.owes_signed_copy else "已归档")
                if v.doc.type in HAND_SIGNED
                else "",
            )
            for v in views
        ],
        widths=(26, 48, 12, 14, 28, 10, 18, 14, 8, 14),
    )


EXPORT_LIMIT = 10_000


def export_documents(
    ws: Wenshu, who: Principal, flt: DocumentFilter, org: str | None, fmt: str
) -> Table:
    """The whole list (every page) as a table; the export is an audit event."""
    total, views = records.listing(
        ws, who, type=None, case_no=None, org=org, page=1, per_page=EXPORT_LIMIT, flt=flt
    )
    if total > EXPORT_LIMIT:
        raise ValidationError(
            f"一次最多导出 {EXPORT_LIMIT} 件，请缩小筛选范围", errors={"format": ["超过导出上限"]}
        )
    with ws.db.write() as s:
        AuditChain.append(
            s,
            actor=who.name,
            action="documents.export",
            org=org or who.org_code,
            details={"format": fmt, "rows": total, "filters": flt.used()},
        )
    return documents_table(ws, views)


CASE_LIMIT = 1000


def case_register(ws: Wenshu, who: Principal, fmt: str) -> Table:
    """案件登记簿: every case of the caller's org, newest first, with its
    documents and what it still lacks; the export is an audit event (``cases.export``)."""
    listing = cases.list_cases(ws, who, page=1, per_page=CASE_LIMIT)
    if listing["total"] > CASE_LIMIT:
        raise ValidationError(
            f"一次最多导出 {CASE_LIMIT} 个案件", errors={"format": ["超过导出上限"]}
        )
    rows = []
    for c in listing["items"]:
        detail = cases.case_detail(ws, who, c["case_no"])
        rows.append(
            (
                c["case_no"],
                c["title"],
                c["created_at"][:16].replace("T", " "),
                c["documents"],
                "齐全" if detail["complete"] else "未齐",
                "、".join(detail["lacking"]),
            )
        )
    with ws.db.write() as s:
        AuditChain.append(
            s,
            actor=who.name,
            action="cases.export",
            org=who.org_code,
            details={"format": fmt, "rows": len(rows)},
        )
    return Table(
        name="案件登记簿",
        headers=("案件编号", "案件名称", "立案时间", "文书件数", "案卷", "尚缺"),
        rows=rows,
        widths=(18, 40, 18, 10, 8, 60),
    )


__all__ = [
    "STATUSES",
    "DispatchRegister",
    "case_register",
    "dispatch",
    "dispatch_table",
    "export_documents",
]

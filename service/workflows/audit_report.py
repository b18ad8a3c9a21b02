"""What an auditor takes away: the offline-verifiable export and the signed audit report.

The export (JSON) carries the whole chain — the org's events in full, every other event
redacted — the org's signed checkpoints, its certificate and its documents' recorded hashes;
``scripts/verify_export.py`` checks it with nothing but the standard library and
``cryptography``. The report is a PDF/A signed with the org's key: counts by action and user,
numbering gaps, fixity failures, the chain head and the checkpoints of a period.

Both start by signing a fresh checkpoint, so the head they show is covered by a signature.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from docx import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from sqlalchemy import func, select

from archive.audit import HASHING, AuditChain, export_events, iso, verify_chain
from archive.certificates import certificate_history
from archive.checkpoints import cert_fingerprint, checkpoint_dict, verify_checkpoints
from archive.models import (
    AuditCheckpoint,
    AuditEvent,
    AuditHead,
    Document,
    Draft,
    Org,
    User,
    Withdrawal,
)
from archive.retention import holds
from schemas.masking import mask_identifiers
from service.doctypes import get_doctype
from service.documents._internals import run_xml
from service.documents.pades import sign_pdf
from service.labels import ACTIONS as ACTION_LABELS  # one list of Chinese action names
from service.labels import CHECKPOINT_REASONS
from service.wiring import Wenshu
from service.workflows.accounts import Principal, get_org
from service.workflows.integrity.fixity import checkpoint_now
from service.workflows.numbers_report import gaps

EXPORT_FORMAT = "wenshu-audit-export/1"
MAX_CHECKPOINT_ROWS = 60  # an hourly checkpoint makes 8,760 a year; the export has them all
PROBLEM_LABELS = {
    "blob": "文件哈希不符或缺失",
    "signature": "签名无效或不可信",
    "record": "与签发记录不符",
}


def build_export(ws: Wenshu, who: Principal, orgs: set[str] | None) -> dict[str, Any]:
    """The export for ``orgs`` (None: everything, unredacted — admins only)."""
    checkpoint_now(ws, actor=who.name, reason="export", orgs=orgs)
    with ws.db.write() as s:
        for code in sorted(orgs) if orgs is not None else [None]:
            AuditChain.append(
                s,
                actor=who.name,
                action="audit.export",
                org=code or who.org_code,
                details={"scope": code or "*"},
            )
    with ws.db.read() as s:
        head = s.get(AuditHead, 1)
        head_seq = head.seq if head else 0
        events = [e for e in export_events(s, orgs) if e["seq"] <= head_seq]
        cp_q = select(AuditCheckpoint).order_by(AuditCheckpoint.seq, AuditCheckpoint.org)
        org_q = select(Org).order_by(Org.code)
        doc_q = select(Document, Org.code).join(Org, Document.org_id == Org.id)
        if orgs is not None:
            cp_q = cp_q.where(AuditCheckpoint.org.in_(orgs))
            org_q = org_q.where(Org.code.in_(orgs))
            doc_q = doc_q.where(Org.code.in_(orgs))
        cps = [checkpoint_dict(cp) for cp in s.scalars(cp_q) if cp.seq <= head_seq]
        history = certificate_history(s, orgs)
        certs = {
            o.code: {
                "sha256": cert_fingerprint(o.cert_pem),
                "pem": o.cert_pem,
                "name": o.name,
                # Replaced certificates: checkpoints and documents signed before still verify.
                "previous": [
                    {"sha256": sha, "pem": pem}
                    for sha, pem in history.get(o.code, {}).items()
                    if pem != o.cert_pem
                ],
            }
            for o in s.scalars(org_q)
        }
        doc_rows = s.execute(doc_q.order_by(Document.issued_at, Document.id)).all()
        ids = [d.id for d, _ in doc_rows]
        hold = holds(s, ids)
        withdrawn = set(
            s.scalars(select(Withdrawal.document_id).where(Withdrawal.document_id.in_(ids)))
        )
    documents = [
        {
            "id": d.id,
            "org": code,
            "type": d.type,
            "wenhao": d.wenhao,
            "archive_no": d.archive_no,
            "title": mask_identifiers(d.title),
            "retention": d.retention,
            "pdf_sha256": d.pdf_sha256,
            "docx_sha256": d.docx_sha256,
            "template_sha256": d.template_sha256,
            "issued_at": iso(d.issued_at),
            "status": "withdrawn" if d.id in withdrawn else "issued",
            "legal_hold": bool(hold.get(d.id) and hold[d.id].placed),
        }
        for d, code in doc_rows
    ]
    return {
        "format": EXPORT_FORMAT,
        "hashing": HASHING,
        "exported_at": iso(ws.now()),
        "exported_by": who.name,
        "scope": sorted(orgs) if orgs is not None else None,
        "head": {"seq": head_seq, "hash": events[-1]["hash"] if events else "0" * 64},
        "events": events,
        "checkpoints": cps,
        "certificates": certs,
        "documents": documents,
    }


# ---------------------------------------------------------------- the signed PDF report


def _utc_bounds(ws: Wenshu, date_from: date, date_to: date) -> tuple[datetime, datetime]:
    start = datetime.combine(date_from, time.min, tzinfo=ws.tz).astimezone(UTC)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=ws.tz).astimezone(UTC)
    return start, end


def report_facts(ws: Wenshu, org_code: str, date_from: date, date_to: date) -> dict[str, Any]:
    """Everything the report states, as data (the PDF is a rendering of this)."""
    start, end = _utc_bounds(ws, date_from, date_to)
    with ws.db.read() as s:
        org = get_org(s, org_code)
        events = list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.org == org.code, AuditEvent.at >= start, AuditEvent.at < end)
                .order_by(AuditEvent.seq)
            )
        )
        approved = s.execute(
            select(Document, Draft, User.name, User.full_name)
            .join(Draft, Draft.document_id == Document.id)
            .join(User, Draft.approved_by == User.id)
            .where(Document.org_id == org.id, Document.issued_at >= start, Document.issued_at < end)
            .order_by(Document.issued_at)
        ).all()
        templates = s.execute(
            select(Document.type, Document.template_sha256, func.count())
            .where(Document.org_id == org.id, Document.issued_at >= start, Document.issued_at < end)
            .group_by(Document.type, Document.template_sha256)
            .order_by(Document.type, Document.template_sha256)
        ).all()
        docs = s.execute(
            select(Document.type, Withdrawal.document_id)
            .outerjoin(Withdrawal, Withdrawal.document_id == Document.id)
            .where(Document.org_id == org.id, Document.issued_at >= start, Document.issued_at < end)
        ).all()
        labels = {
            d.id: d.wenhao or d.archive_no
            for d in s.scalars(select(Document).where(Document.org_id == org.id))
        }
        chain = verify_chain(s)
        cps = verify_checkpoints(s, certificate_history(s, {org.code}), orgs={org.code})
        checkpoints = [
            (checkpoint_dict(cp), cp.at)
            for cp in s.scalars(
                select(AuditCheckpoint)
                .where(
                    AuditCheckpoint.org == org.code,
                    AuditCheckpoint.at >= start,
                    AuditCheckpoint.at < end,
                )
                .order_by(AuditCheckpoint.seq)
            )
        ]
        org_name = org.name
    by_type: dict[str, list[int]] = {}
    for doc_type, withdrawn in docs:
        counts = by_type.setdefault(doc_type, [0, 0])
        counts[0] += 1
        counts[1] += withdrawn is not None
    numbering = [gaps(ws, org_code, y) for y in range(date_from.year, date_to.year + 1)]
    fixity_runs = [e for e in events if e.action == "fixity.check"]
    return {
        "org": org_code,
        "org_name": org_name,
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "by_action": Counter(e.action for e in events).most_common(),
        "by_actor": Counter(e.actor for e in events).most_common(),
        "documents": {t: {"issued": c[0], "withdrawn": c[1]} for t, c in sorted(by_type.items())},
        # who 签发ed each document issued in the period (党政机关公文处理工作条例 第十七条)
        "approvals": [
            {
                "label": doc.wenhao or doc.archive_no,
                "type": doc.type,
                "approved_by": f"{full_name}（{approver}）" if full_name else approver,
                "approved_at": ws.local_time(draft.approved_at).strftime("%Y-%m-%d %H:%M"),
                "returns": draft.returns,
            }
            for doc, draft, approver, full_name in approved
        ],
        # the templates the period's documents were rendered from (an org's own or the default)
        "templates": [{"type": t, "sha256": sha, "documents": n} for t, sha, n in templates],
        "template_changes": [
            {
                "at": ws.local_time(e.at).strftime("%Y-%m-%d %H:%M"),
                "actor": e.actor,
                **{k: json.loads(e.details).get(k) for k in ("type", "old_sha256", "new_sha256")},
            }
            for e in events
            if e.action == "template.activate"
        ],
        "series": [x for g in numbering for x in g["series"]],
        "missing": [m for g in numbering for m in g["missing"]],
        "fixity_runs": len(fixity_runs),
        "fixity_last": json.loads(fixity_runs[-1].details)
        | {"at": ws.local_time(fixity_runs[-1].at).strftime("%Y-%m-%d %H:%M")}
        if fixity_runs
        else None,
        "fixity_failures": [
            {
                "seq": e.seq,
                "at": iso(e.at),
                "document_id": e.object_id,
                "label": labels.get(e.object_id or "", e.object_id),
                "kinds": json.loads(e.details).get("kinds", []),
                "problems": json.loads(e.details).get("problems", []),
            }
            for e in events
            if e.action == "fixity.failure"
        ],
        "chain": {
            "ok": chain.ok,
            "checked": chain.checked,
            "head_seq": chain.head_seq,
            "head_hash": chain.head_hash,
            "first_bad_seq": chain.first_bad_seq,
            "problem": chain.problem,
        },
        "checkpoint_problems": [p.message for p in cps.problems],
        "checkpoints": [
            dict(c, local_at=ws.local_time(cp_at).strftime("%Y-%m-%d %H:%M"))
            for c, cp_at in checkpoints
        ],
    }


def audit_report(
    ws: Wenshu, who: Principal, org_code: str, date_from: date, date_to: date
) -> tuple[bytes, str]:
    """The signed PDF/A report and its sha256; the PDF is archived and its issue recorded."""
    checkpoint_now(ws, actor=who.name, reason="report", orgs={org_code})
    facts = report_facts(ws, org_code, date_from, date_to)
    generated = ws.local_time(ws.now()).strftime("%Y-%m-%d %H:%M")
    docx = render_report_docx(facts, generated=generated, by=who.name)
    pdf = ws.converter.to_pdf(docx, pdfa=True)
    with ws.db.read() as s:
        org = get_org(s, org_code)
    key_pem, _ = ws.keys.load(org_code)
    signed = sign_pdf(
        pdf,
        key_pem=key_pem,
        cert_pem=org.cert_pem.encode("ascii"),
        reason=f"审计报告 {facts['from']}—{facts['to']}",
        location=org.name,
        field_name="AuditSeal",
    )
    digest = ws.blobs.put(signed)
    with ws.db.write() as s:
        AuditChain.append(
            s,
            actor=who.name,
            action="audit.report",
            org=org_code,
            object_id=digest,
            details={
                "from": facts["from"],
                "to": facts["to"],
                "pdf_sha256": digest,
                "head_seq": facts["chain"]["head_seq"],
                "chain_ok": facts["chain"]["ok"],
            },
        )
    return signed, digest


def _type_label(code: str) -> str:
    doctype = get_doctype(code)
    return doctype.label if doctype else "其他类型"


def _run(
    paragraph: Any, text: str, *, font: str = "仿宋_GB2312", size: float = 12, bold: bool = False
) -> None:
    run = paragraph.add_run(text)
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.name = font
    run_xml(run).get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), font)


def _para(doc: Any, text: str, **kw: Any) -> Any:
    align = kw.pop("align", None)
    p = doc.add_paragraph()
    if align is not None:
        p.alignment = align
    _run(p, text, **kw)
    return p


def _heading(doc: Any, text: str) -> None:
    _para(doc, text, font="黑体", size=16)


def _table(doc: Any, header: list[str], rows: list[list[Any]], widths_mm: list[int]) -> None:
    """A grid table; the widths (of a 156 mm 版心) keep numbers and hashes on one line."""
    if not rows:
        _para(doc, "（无）")
        return
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    table.autofit = False
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        _run(cell.paragraphs[0], text, font="黑体", size=10.5)
    for row in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            _run(cell.paragraphs[0], str(value), size=10.5)
    # LibreOffice lays out by the grid (gridCol), Word by the cells (tcW): set both.
    for column, width in zip(table.columns, widths_mm, strict=True):
        column.width = Mm(width)
        for cell in column.cells:
            cell.width = Mm(width)


def render_report_docx(facts: dict[str, Any], *, generated: str, by: str) -> bytes:
    doc = DocxDocument()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    _para(
        doc, f"{facts['org_name']}审计报告", font="黑体", size=22, align=WD_ALIGN_PARAGRAPH.CENTER
    )
    _para(doc, f"期间：{facts['from']} 至 {facts['to']}", align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(doc, f"生成时间：{generated}　生成人：{by}", align=WD_ALIGN_PARAGRAPH.CENTER)

    _heading(doc, "一、事件统计")
    _para(doc, f"本期间本机构共记录事件 {sum(n for _, n in facts['by_action'])} 个。按动作：")
    _table(
        doc,
        ["动作", "次数"],
        [[ACTION_LABELS.get(a, "其他操作"), n] for a, n in facts["by_action"]],
        [106, 50],
    )
    _para(doc, "按用户：")
    _table(doc, ["用户", "次数"], [[a, n] for a, n in facts["by_actor"]], [106, 50])
    _para(doc, "按文书类型：")
    _table(
        doc,
        ["类型", "签发", "其中作废"],
        [[_type_label(t), c["issued"], c["withdrawn"]] for t, c in facts["documents"].items()],
        [76, 40, 40],
    )

    if facts["approvals"]:
        _para(doc, "签发记录（经本机关签发人审批后编号发文的文书）：")
        _table(
            doc,
            ["文号/档号", "签发人", "签发时间", "退回次数"],
            [
                [a["label"], a["approved_by"], a["approved_at"], a["returns"]]
                for a in facts["approvals"]
            ],
            [62, 34, 40, 20],
        )

    _para(doc, "所用模板（每份文书记录生成所用 DOCX 模板的 SHA-256）：")
    _table(
        doc,
        ["类型", "模板 SHA-256（前 16 位）", "文书数"],
        [
            [_type_label(t["type"]), (t["sha256"] or "（未记录）")[:16], t["documents"]]
            for t in facts["templates"]
        ],
        [46, 80, 30],
    )
    if facts["template_changes"]:
        _para(doc, "模板启用记录：")
        _table(
            doc,
            ["时间", "操作人", "类型", "原模板（前 16 位）", "新模板（前 16 位）"],
            [
                [
                    c["at"],
                    c["actor"],
                    _type_label(c["type"] or ""),
                    (c["old_sha256"] or "")[:16],
                    (c["new_sha256"] or "")[:16],
                ]
                for c in facts["template_changes"]
            ],
            [30, 26, 24, 38, 38],
        )

    _heading(doc, "二、编号核对")
    _table(
        doc,
        ["编号序列", "已用", "作废", "注销", "待复用", "缺号"],
        [
            [
                x["label"],
                x["issued"],
                len(x["withdrawn"]),
                len(x["voided"]),
                len(x["released"]) + len(x["in_flight"]),
                len(x["missing"]),
            ]
            for x in facts["series"]
        ],
        [56, 20, 20, 20, 20, 20],
    )
    if facts["missing"]:
        _para(doc, "缺号明细：")
        _table(
            doc, ["编号", "原因"], [[m["number"], m["reason"]] for m in facts["missing"]], [56, 100]
        )
    else:
        _para(doc, "所有编号均有着落，无缺号。")

    _heading(doc, "三、完整性检查")
    last = facts["fixity_last"]
    _para(
        doc,
        f"本期间运行检查 {facts['fixity_runs']} 次。"
        + (
            f"最近一次：{last['at']}，检查文书 {last.get('documents', 0)} 件，"
            f"结果：{'通过' if last.get('ok') else '发现问题'}。"
            if last
            else "本期间未运行检查。"
        ),
    )
    _table(
        doc,
        ["事件", "文书", "问题"],
        [
            [
                f["seq"],
                f"{f['label']}\n{f['document_id']}",
                "、".join(PROBLEM_LABELS.get(k, k) for k in f["kinds"]),
            ]
            for f in facts["fixity_failures"]
        ],
        [16, 64, 76],
    )

    _heading(doc, "四、审计链与检查点")
    chain = facts["chain"]
    _para(
        doc, f"审计链验证：{'完整' if chain['ok'] else '发现篡改'}，共 {chain['checked']} 个事件。"
    )
    if not chain["ok"]:
        _para(doc, f"第一个异常事件：第 {chain['first_bad_seq']} 号。{chain['problem']}")
    for problem in facts["checkpoint_problems"]:
        _para(doc, f"检查点异常：{problem}")
    _para(doc, f"链头：第 {chain['head_seq']} 号事件", size=10.5)
    _para(doc, f"链头哈希：{chain['head_hash']}", size=9)
    shown = facts["checkpoints"][-MAX_CHECKPOINT_ROWS:]
    _para(
        doc,
        f"本期间签署的检查点共 {len(facts['checkpoints'])} 个"
        + (f"，列出最近 {len(shown)} 个：" if len(shown) < len(facts["checkpoints"]) else "："),
    )
    _table(
        doc,
        ["序号", "签署时间", "链头哈希（前 16 位）", "缘由"],
        [
            [
                c["seq"],
                c["local_at"],
                c["head_hash"][:16],
                CHECKPOINT_REASONS.get(c["reason"], "其他"),
            ]
            for c in facts["checkpoints"]
        ],
        [20, 46, 60, 30],
    )
    _para(
        doc,
        "本报告由系统生成，以本机构签章密钥签署；报告所列事件与检查点可用审计导出数据离线核验。",
        size=10.5,
    )
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()

"""检查报告: the report of an inspection (seed 002, 附件3 检查报告（模板）; seed 001).

Five sections in the notice's body styles; a section left empty says 无。. Section 四 is a
table of the violations found with the figures computed by the schema, not typed: each
violation's 审理级别 (重大 or 一般, :func:`schemas.inspection_report.review_level`) and the
合计 (:func:`schemas.inspection_report.report_facts`). The report ends with the 署名 and
成文日期 (the issue date), with the seal over them when one is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from docxtpl import DocxTemplate

from schemas.inspection_report import report_facts
from service.documents.layout import (
    DoctypeRenderer,
    Fragment,
    RenderJob,
    amount_text,
    balance_title,
    chinese_date,
    date_span,
    literal,
    signature_block,
    text_lines,
    write_paragraphs,
)
from service.documents.metrics import wrap_words


def _section(tpl: DocxTemplate, job: RenderJob, key: str) -> Fragment:
    return write_paragraphs(Fragment(tpl), job.data.get(key) or [])


MEASURE_CHARS = 6
"""Characters of 五号 (10.5 pt) a line of the 处理措施 column holds (its width in
``scripts/build_templates.py``, ``REPORT_GRID``): the longest word of a measure, 拒付（追回）."""


def measure_lines(measures: list[str]) -> str:
    """处理措施 as printed: one measure a line, 、 between them, a long one broken between its
    words (拒付（追回） / 医保基金), never inside one."""
    last = len(measures) - 1
    lines = [
        line
        for i, m in enumerate(measures)
        for line in wrap_words(m + ("、" if i < last else ""), MEASURE_CHARS)
    ]
    return "\n".join(lines)


def violation_rows(violations: list[Mapping[str, Any]], levels: list[str]) -> list[dict[str, Any]]:
    """One row of section 四's table per violation, as printed."""
    return [
        {
            "no": str(i),
            "institution": literal(v["institution"]),
            "id_code": literal(v.get("id_code") or ""),
            "institution_type": literal(v["institution_type"]),
            "issue": literal("\n".join(text_lines(v["issue"]))),
            "amount": amount_text(v["amount"]),
            "measures": literal(measure_lines(v["measures"])),
            "level": level,
        }
        for i, (v, level) in enumerate(zip(violations, levels, strict=True), start=1)
    ]


def _inspection_report_context(tpl: DocxTemplate, job: RenderJob) -> dict[str, Any]:
    d = job.data
    violations = list(d.get("violations") or [])
    facts = report_facts({**d, "violations": violations})
    suggestions = _section(tpl, job, "suggestions")
    # The page with the 署名 must carry text (GB/T 9704-2012 §7.3.5.1, as for the notice).
    suggestions.paragraphs[-1].paragraph_format.keep_with_next = True
    return {
        "title": literal(balance_title(str(d.get("title") or "检查报告"), tpl)),
        "org_name": literal(job.org.name),
        "inspection_type": literal(d["inspection_type"]),
        "team_size": str(d["team_size"]),
        "period": date_span(d["started_on"], d["ended_on"]),
        "region": literal(d["region"]),
        "basic_situation": _section(tpl, job, "basic_situation"),
        "main_practices": _section(tpl, job, "main_practices"),
        "common_problems": _section(tpl, job, "common_problems"),
        "typical_problems": _section(tpl, job, "typical_problems"),
        "violations": violation_rows(violations, facts["review_levels"]),
        # 家: institutions, told apart by their code (or name when there is none).
        "institutions": str(len({v.get("id_code") or v["institution"] for v in violations})),
        "major": str(facts["major"]),
        "general": str(facts["general"]),
        "total_amount": amount_text(Decimal(facts["total_amount"])),
        "suggestions": suggestions,
        "signature": signature_block(tpl, job.org.name, chinese_date(job.issue_date), job.seal_png),
    }


RENDERER = DoctypeRenderer(_inspection_report_context, label="检查报告")

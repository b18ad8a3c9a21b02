"""检查记录单 and 询问笔录: the two forms filled in on site (seed 002, 附件 1 and 2).

Both print 第 X 页 共 Y 页 on every page from real PAGE/NUMPAGES fields in the template's
header, and end in lines signed by hand (so they carry no seal, whatever the caller passes).
The 询问笔录 also has a 被询问人签名 line in the footer of every page: the interviewee signs
each page. The findings and the questions and answers are fragments of literal paragraphs;
everything else is a simple field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from docxtpl import DocxTemplate

from service.documents._internals import run_xml
from service.documents.layout import (
    DoctypeRenderer,
    Fragment,
    RenderJob,
    balance_title,
    literal,
    printable,
    text_lines,
    time_span,
    write_paragraphs,
)

SUBJECT_FIELDS = ("name", "category", "address", "legal_rep", "phone", "id_code")
INTERVIEWEE_FIELDS = ("name", "gender", "address", "position", "phone", "id_number")


def _fields(prefix: str, record: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """``{prefix}{key}`` for each key; a value not given leaves its cell blank, to be
    filled in by hand."""
    return {f"{prefix}{key}": literal(str(record.get(key) or "")) for key in keys}


def _common(tpl: DocxTemplate, job: RenderJob, default_title: str) -> dict[str, Any]:
    d = job.data
    return {
        "title": literal(balance_title(str(d.get("title") or default_title), tpl)),
        "location": literal(d["location"]),
        "time_span": literal(time_span(d["started_at"], d["ended_at"])),
        "recorder": literal(d["recorder"]),
        "org_name": literal(job.org.name),
        "matter": literal(d["matter"]),
    }


def _last_keeps_with_attestation(frag: Fragment) -> Fragment:
    """以上记录情况属实 and the signatures never stand on a page of their own: the last
    line of the record goes with them (nothing can be slipped in between)."""
    frag.paragraphs[-1].paragraph_format.keep_with_next = True
    return frag


def _inspection_record_context(tpl: DocxTemplate, job: RenderJob) -> dict[str, Any]:
    d = job.data
    subject = d["subject"]
    person = subject["kind"] == "person"
    return {
        **_common(tpl, job, "检查记录单"),
        **_fields("s_", subject, SUBJECT_FIELDS),
        "subject_is_person": person,
        # 现对你单位…进行检查 (the seed's wording) for an institution, 现对你… for a person.
        "you": "你" if person else "你单位",
        "inspectors": literal("、".join(d["inspectors"])),
        "witness": literal(d.get("witness") or ""),
        "findings": _last_keeps_with_attestation(write_paragraphs(Fragment(tpl), d["findings"])),
    }


def question_and_answers(tpl: DocxTemplate, qa: Iterable[Mapping[str, str]]) -> Fragment:
    """问：… / 答：… paragraphs, the labels in 黑体; a question keeps with its answer. A
    multi-line answer continues in paragraphs of its own, without a label."""
    frag = Fragment(tpl)
    for pair in qa:
        for label, text, style in (
            ("问：", pair["q"], "WenshuQuestion"),
            ("答：", pair["a"], "WenshuAnswer"),
        ):
            first, *rest = text_lines(text) or [""]
            p = frag.add(style)
            run_xml(p.add_run(label)).style = "WenshuLabelChar"
            if first:
                p.add_run(printable(first))
            for line in rest:
                frag.add(style, line)
    return frag


def _interview_transcript_context(tpl: DocxTemplate, job: RenderJob) -> dict[str, Any]:
    d = job.data
    return {
        **_common(tpl, job, "询问笔录"),
        **_fields("p_", d["interviewee"], INTERVIEWEE_FIELDS),
        "interviewers": literal("、".join(d["interviewers"])),
        "qa": _last_keeps_with_attestation(question_and_answers(tpl, d["qa"])),
    }


INSPECTION_RECORD = DoctypeRenderer(_inspection_record_context, label="检查记录单")
INTERVIEW_TRANSCRIPT = DoctypeRenderer(_interview_transcript_context, label="询问笔录")

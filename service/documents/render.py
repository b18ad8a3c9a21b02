"""Render validated input into a DOCX from the type's template in ``doc_templates/``.

Each document type has a :class:`DoctypeRenderer` (a function that builds the docxtpl
context, and optionally one that adjusts the rendered document), registered here under its
code with :func:`register_doctype`. The types themselves live in their own modules:

- ``notice`` (通知): :mod:`service.documents.render_notice`
- ``inspection_record`` (检查记录单), ``interview_transcript`` (询问笔录):
  :mod:`service.documents.render_record`
- ``inspection_report`` (检查报告): :mod:`service.documents.render_report`

The helpers they share (literal text, dates, fragments of paragraphs, the 署名 with the seal)
are in :mod:`service.documents.layout` and re-exported here.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

from docx.document import Document as DocxDocument
from docxtpl import DocxTemplate
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from archive.errors import NotFoundError, ValidationError
from service.documents import render_notice, render_record, render_report
from service.documents.layout import (
    DoctypeRenderer,
    Fragment,
    Letterhead,
    RenderError,
    RenderJob,
    balance_title,
    chinese_date,
    em_width,
    heading_number,
    literal,
    normalise_docx,
    printable,
    write_blocks,
)

__all__ = [
    "DoctypeRenderer",
    "Fragment",
    "Letterhead",
    "RenderError",
    "RenderJob",
    "balance_title",
    "chinese_date",
    "em_width",
    "heading_number",
    "literal",
    "register_doctype",
    "render_docx",
    "sample_input",
    "template_path",
    "write_blocks",
]

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "doc_templates"

_REGISTRY: dict[str, DoctypeRenderer] = {}


def register_doctype(doctype: str, renderer: DoctypeRenderer) -> None:
    """Make ``doctype`` renderable with ``doc_templates/<doctype>.docx``."""
    _REGISTRY[doctype] = renderer


def template_path(doctype: str) -> Path:
    """``doc_templates/<doctype>.docx``."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", doctype):
        raise NotFoundError(f"未知的文书类型：{doctype}")
    return TEMPLATES_DIR / f"{doctype}.docx"


def sample_input(doctype: str) -> dict[str, Any]:
    """The realistic example input kept next to the template (a fresh copy each call)."""
    path = template_path(doctype).with_suffix(".sample.json")
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise NotFoundError(f"没有文书类型 {doctype} 的示例输入") from exc
    return data


def render_docx(
    doctype: str,
    data: dict,
    *,
    org: Letterhead,
    wenhao: str,
    issue_date: dt.date,
    seal_png: bytes | None = None,
) -> bytes:
    """Fill the template of ``doctype`` with ``data`` (the output of the type's schema).

    ``wenhao`` is printed as given (a real number, or a placeholder for a preview; types
    without a 发文字号 ignore it). With ``seal_png`` the seal floats over the 署名 and
    成文日期 of the types that have them (notice, report); records and transcripts are
    signed by hand and ignore it. Equal arguments give byte-identical DOCX files.
    """
    renderer = _REGISTRY.get(doctype)
    if renderer is None:
        raise ValidationError(
            f"未知的文书类型：{doctype}", errors={"type": [f"未知的文书类型：{doctype}"]}
        )
    job = RenderJob(doctype, data, org, wenhao, issue_date, seal_png)
    tpl = DocxTemplate(template_path(doctype))
    env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
    try:
        context = renderer.build_context(tpl, job)
        tpl.render(context, jinja_env=env, autoescape=True)
    except TemplateError as exc:
        raise RenderError(f"模板 {doctype}.docx 与数据不匹配：{exc}") from exc
    document = tpl.docx
    if renderer.finish:
        renderer.finish(document, job)
    _set_properties(document, job, renderer.label)
    buf = io.BytesIO()
    document.save(buf)
    return normalise_docx(buf.getvalue())


def _set_properties(document: DocxDocument, job: RenderJob, label: str) -> None:
    props = document.core_properties
    props.title = printable(str(job.data.get("title") or label))
    props.subject = label
    props.author = job.org.name
    props.last_modified_by = job.org.name
    props.identifier = job.wenhao
    props.keywords = job.wenhao
    props.comments = ""
    props.category = label
    props.language = "zh-CN"
    props.revision = 1
    moment = dt.datetime.combine(job.issue_date, dt.time())
    props.created = props.modified = moment


register_doctype("notice", render_notice.RENDERER)
register_doctype("inspection_record", render_record.INSPECTION_RECORD)
register_doctype("interview_transcript", render_record.INTERVIEW_TRANSCRIPT)
register_doctype("inspection_report", render_report.RENDERER)

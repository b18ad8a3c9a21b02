"""Render validated input into a DOCX from the type's template in ``doc_templates/``.

A document type renders with a :class:`DoctypeRenderer` (a function that builds the docxtpl
context, and optionally one that adjusts the rendered document) and a
:class:`~service.documents.templates.Template`; :func:`render_document` takes both as
arguments. Which type uses which is declared by the type's module in ``service/doctypes/``,
a layer above this one, so nothing here names a type: the renderers are building blocks
(:mod:`service.documents.render_notice` for the red-header notice,
:mod:`service.documents.render_record` for the forms filled in on site,
:mod:`service.documents.render_report` for the report). By a type's code:
``service.doctypes.render_docx``.

The helpers the renderers share (literal text, dates, fragments of paragraphs, the 署名 with
the seal) are in :mod:`service.documents.layout` and re-exported here.
"""

from __future__ import annotations

import datetime as dt
import io

from docx.document import Document as DocxDocument
from docxtpl import DocxTemplate
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

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
from service.documents.templates import Template

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
    "render_document",
    "write_blocks",
]


def render_document(
    renderer: DoctypeRenderer,
    template: Template,
    doctype: str,
    data: dict,
    *,
    org: Letterhead,
    wenhao: str,
    issue_date: dt.date,
    seal_png: bytes | None = None,
    archive_no: str = "",
) -> bytes:
    """Fill ``template`` with ``data`` (the output of the type's schema) by ``renderer``.

    ``wenhao`` is printed as given (a real number, or a placeholder for a preview; types
    without a 发文字号 ignore it). With ``seal_png`` the seal floats over the 署名 and
    成文日期 of the types that have them (notice, report); records and transcripts are
    signed by hand and ignore it. ``archive_no`` (档号) and ``wenhao`` go into the document's
    keywords, which the PDF keeps. Equal arguments give byte-identical DOCX files.
    """
    job = RenderJob(doctype, data, org, wenhao, issue_date, seal_png, archive_no)
    tpl = DocxTemplate(template.path)
    env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
    try:
        context = renderer.build_context(tpl, job)
        tpl.render(context, jinja_env=env, autoescape=True)
    except TemplateError as exc:
        raise RenderError(f"模板 {template.file} 与数据不匹配：{exc}") from exc
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
    props.identifier = job.archive_no or job.wenhao
    props.keywords = "; ".join(n for n in (job.wenhao, job.archive_no) if n)
    props.comments = ""
    props.category = label
    props.language = "zh-CN"
    props.revision = 1
    moment = dt.datetime.combine(job.issue_date, dt.time())
    props.created = props.modified = moment

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
import logging
from collections.abc import Callable

from docx.document import Document as DocxDocument
from docxtpl import DocxTemplate
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from pypdf import PdfReader

from service.documents.layout import (
    DoctypeRenderer,
    Fragment,
    Letterhead,
    RenderError,
    RenderJob,
    balance_title,
    chinese_date,
    heading_number,
    literal,
    normalise_docx,
    printable,
    write_blocks,
)
from service.documents.metrics import em_width
from service.documents.templates import Template

log = logging.getLogger(__name__)

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
    "typeset",
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
    template_docx: bytes | None = None,
) -> bytes:
    """Fill ``template`` with ``data`` (the output of the type's schema) by ``renderer``.

    ``wenhao`` is printed as given (a real number, or a placeholder for a preview; types
    without a 发文字号 ignore it). With ``seal_png`` the seal floats over the 署名 and
    成文日期 of the types that have them (notice, report); records and transcripts are
    signed by hand and ignore it. ``archive_no`` (档号) and ``wenhao`` go into the document's
    keywords, which the PDF keeps. ``template_docx``: the org's own version of the template
    (checked against ``template``'s contract when it was uploaded), else the committed file.
    Equal arguments give byte-identical DOCX files.
    """
    job = RenderJob(doctype, data, org, wenhao, issue_date, seal_png, archive_no)
    tpl = DocxTemplate(io.BytesIO(template_docx) if template_docx is not None else template.path)
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


def typeset(
    renderer: DoctypeRenderer,
    render: Callable[[dict], bytes],
    data: dict,
    convert: Callable[[bytes], bytes],
) -> tuple[bytes, bytes]:
    """The DOCX and the PDF of ``data``: ``render`` makes the DOCX, ``convert`` the PDF.

    A type with :attr:`~DoctypeRenderer.blank_pages_key` ends on an even page, its 版记 on
    the last one (GB/T 9704-2012 §7.5, a sheet printed on both sides): when the PDF has an odd
    number of pages the document is rendered again with one page left blank before the 版记
    (the 版记 moves from under the text to the next page), and when the 版记 stood alone on
    its page, with two (a blank page, then the 版记's). Only the page count is measured, so a
    file laid into the pages left for it later changes nothing.
    """
    docx = render(data)
    pdf = convert(docx)
    key = renderer.blank_pages_key
    blank = 0
    while key and _page_count(pdf) % 2 and blank < 2:
        blank += 1
        docx = render({**data, key: blank})
        pdf = convert(docx)
    if key and _page_count(pdf) % 2:
        log.warning("%s ends on an odd page (%d)", renderer.label, _page_count(pdf))
    return docx, pdf


def _page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


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

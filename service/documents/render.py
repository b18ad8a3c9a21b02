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
import hashlib
import io
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NamedTuple

from docx.document import Document as DocxDocument
from docxtpl import DocxTemplate
from jinja2 import StrictUndefined, TemplateError
from jinja2 import Template as JinjaTemplate
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
    "Typeset",
    "typeset",
    "write_blocks",
]


# ---------------------------------------------------------------- once per template content
# docxtpl, for each document, rewrites the XML of the template's body, headers and footers into
# Jinja source (``patch_xml``: some twenty regular expressions) and compiles that source. For
# one template both give the same result every time, so a worker keeps them, keyed by the
# template's sha256 and the part's text: by content, not by path, so a template replaced on
# disk (a new version, another org's) is another entry and never a stale one. The document
# itself is parsed afresh each time from the file's bytes: docxtpl fills it in place.

_CACHED = 64
"""Entries per cache: every part of the templates of a few dozen orgs' versions."""


class _Bounded:
    """A small LRU mapping shared by the threads of a worker."""

    def __init__(self, size: int = _CACHED) -> None:
        self._size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_PATCHED = _Bounded()
_COMPILED = _Bounded()


class _CompilingOnce(SandboxedEnvironment):
    """The sandbox the templates render in, compiling each source text once."""

    def __init__(self) -> None:
        super().__init__(autoescape=True, undefined=StrictUndefined)

    def from_string(  # type: ignore[override]
        self, source: str, globals: Any = None, template_class: Any = None
    ) -> JinjaTemplate:
        if globals is not None or template_class is not None:
            return super().from_string(source, globals, template_class)
        compiled = _COMPILED.get(source)
        if compiled is None:
            compiled = super().from_string(source)
            _COMPILED.put(source, compiled)
        return compiled


_ENVIRONMENT = _CompilingOnce()


class _CachedTemplate(DocxTemplate):
    """A :class:`DocxTemplate` of a template file's bytes whose ``patch_xml`` runs once per template content
    and part."""

    def __init__(self, data: bytes) -> None:
        self._sha256 = hashlib.sha256(data).hexdigest()
        super().__init__(io.BytesIO(data))

    def patch_xml(self, src_xml: str) -> str:
        key = (self._sha256, src_xml)
        patched = _PATCHED.get(key)
        if patched is None:
            patched = super().patch_xml(src_xml)
            _PATCHED.put(key, patched)
        return str(patched)


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
    tpl = _CachedTemplate(
        template_docx if template_docx is not None else template.path.read_bytes()
    )
    env = _ENVIRONMENT
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
) -> Typeset:
    """The DOCX and the PDF of ``data`` and the PDF's pages: ``render`` makes the DOCX,
    ``convert`` the PDF.

    A type with :attr:`~DoctypeRenderer.blank_pages_key` ends on an even page, its 版记 on
    the last one (GB/T 9704-2012 §7.5, a sheet printed on both sides): when the PDF has an odd
    number of pages the document is rendered again with one page left blank before the 版记
    (the 版记 moves from under the text to the next page), and when the 版记 stood alone on
    its page, with two (a blank page, then the 版记's). Only the page count is measured, so a
    file laid into the pages left for it later changes nothing.

    When ``convert`` also has ``to_pdf_even`` (a :class:`~service.documents.convert.client.
    PdfMaker`), LibreOffice lays the text out and, when it is odd, starts the document's last
    paragraph (the anchor of the 版记) on a new page before exporting: the layout of one blank
    page, in one conversion instead of two. The DOCX returned is then the one rendered with
    the blank page, which converts to those pages (``tests/documents/test_notice_once.py``);
    only a 版记 alone on its odd page needs a second conversion (two blank pages), and a
    template whose last paragraph does not anchor its 版记 is converted again as before.
    The pages are the converter's count when ``convert`` has ``to_pdf_counted`` (and
    ``to_pdf_even``), else counted here.
    """
    key = renderer.blank_pages_key
    docx = render(data)
    even = getattr(convert, "to_pdf_even", None) if key else None
    if even is not None:
        made = even(docx)
        pdf, pages, blank = made.pdf, made.pages, made.added
        if blank:
            docx = render({**data, key: blank})
    else:
        (pdf, pages), blank = _counted(convert, docx), 0
    while key and pages % 2 and blank < 2:  # the 版记 alone, or a template of another shape
        blank += 1
        docx = render({**data, key: blank})
        pdf, pages = _counted(convert, docx)
    if key and pages % 2:
        log.warning("%s ends on an odd page (%d)", renderer.label, pages)
    return Typeset(docx, pdf, pages)


class Typeset(NamedTuple):
    """A document as :func:`typeset` made it."""

    docx: bytes
    pdf: bytes
    pages: int


def _counted(convert: Callable[[bytes], bytes], docx: bytes) -> tuple[bytes, int]:
    counted = getattr(convert, "to_pdf_counted", None)
    if counted is not None:
        made = counted(docx)
        return made.pdf, made.pages
    pdf = convert(docx)
    return pdf, _page_count(pdf)


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

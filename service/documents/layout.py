"""What every document type's renderer shares: the render job, literal text, dates and
times as printed, titles broken into even lines, and paragraphs built with python-docx.

Templates are trusted files; user data never is. Simple fields go through docxtpl with
autoescape on (:func:`literal`), and everything of variable length is built as python-docx
paragraphs with literal text (:class:`Fragment`), using the paragraph styles defined in the
template. So ``{{ 7*7 }}``, ``{% if %}``, ``<b>&`` typed by a user reach paper exactly as typed.
"""

from __future__ import annotations

import datetime as dt
import io
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from docx.document import Document as DocxDocument
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Emu, Pt
from docx.text.paragraph import Paragraph
from docxtpl import DocxTemplate
from lxml import etree
from markupsafe import Markup, escape

from archive.errors import WenshuError
from service.documents._internals import paragraph_xml, run_xml
from service.documents.metrics import balance_lines, exact_line_pt, printed_width, style_font
from service.documents.seal import SEAL_DIAMETER_MM, float_seal

_ZIP_TIME = (2026, 1, 1, 0, 0, 0)

# The page of the committed GB/T 9704-2012 templates: what :func:`measure` falls back on when a
# template does not say (a style without a size, a line pitch that is not exact).
TEXT_WIDTH_PT = 8845 / 20
LINE_PT = 579 / 20
CHAR_PT = 16.0
MARK_SIZE_PT = 42.0
TITLE_SIZE_PT = 22.0

PRINT_TZ = ZoneInfo("Asia/Shanghai")
"""Times with a zone are printed in China Standard Time; naive ones are local already."""


@dataclass(frozen=True)
class PageMeasure:
    """The page a template sets, as the layout needs it: read from the template's section and
    styles, so a bureau's template with another 版心 or type sizes (within what ``wenshu
    template check`` allows) still gets its title balanced and its seal on the date."""

    text_width_pt: float
    """The 版心's width: the page's less the left (订口, with any gutter) and right margins."""
    line_pt: float
    """The body's line pitch (WenshuBody, exact)."""
    char_pt: float
    """One body character (WenshuBody's size, 3号 = 16 pt)."""
    mark_size_pt: float
    """The red mark's size (WenshuMark; 初号 = 42 pt)."""


def measure(document: DocxDocument) -> PageMeasure:
    """The :class:`PageMeasure` of a template (or of the document being rendered from it)."""
    section = document.sections[0]
    width, left, right = section.page_width, section.left_margin, section.right_margin
    if width is None or left is None or right is None:
        text_width = TEXT_WIDTH_PT
    else:
        text_width = Emu(width - left - right - (section.gutter or 0)).pt
    style_ids = {s.style_id for s in document.styles}

    def size(style_id: str, default: float) -> float:
        return style_font(document, style_id).size_pt if style_id in style_ids else default

    return PageMeasure(
        text_width_pt=text_width,
        line_pt=exact_line_pt(document, "WenshuBody") or LINE_PT,
        char_pt=size("WenshuBody", CHAR_PT),
        mark_size_pt=size("WenshuMark", MARK_SIZE_PT),
    )


class RenderError(WenshuError):
    """A template and its context do not fit together (a defect, not a user error)."""

    code = "render_failed"


@dataclass(frozen=True)
class Letterhead:
    """What the issuing organisation puts on its documents."""

    name: str
    """发文机关署名, e.g. 吕梁市医疗保障局; also the default 印发机关."""
    mark: str
    """发文机关标志, the red mark, e.g. 吕梁市医疗保障局文件."""
    zihao: str
    """机关代字, e.g. 吕医保发."""


@dataclass(frozen=True)
class RenderJob:
    """Everything a context builder may use."""

    doctype: str
    data: Mapping[str, Any]
    org: Letterhead
    wenhao: str
    issue_date: dt.date
    seal_png: bytes | None = None
    archive_no: str = ""
    """档号 (every issued document has one; empty in a preview), kept in the metadata."""


@dataclass(frozen=True)
class DoctypeRenderer:
    build_context: Callable[[DocxTemplate, RenderJob], dict[str, Any]]
    """Returns the docxtpl context; every variable of the template must be in it."""
    finish: Callable[[DocxDocument, RenderJob], None] | None = None
    """Adjusts the rendered document (fit the mark, set properties) before it is saved."""
    label: str = ""
    """The Chinese name of the type, stored as the DOCX subject."""
    blank_pages_key: str | None = None
    """For a type whose 版记 must end on an even page (GB/T 9704-2012 §7.5): the data key
    saying how many pages to leave blank before the 版记 (:func:`~service.documents.render.
    typeset` sets it after measuring the converted PDF). None: no such rule."""


# ----------------------------------------------------------------------------- dates, numbers


def chinese_date(day: dt.date) -> str:
    """2021年4月23日: Arabic numerals, no leading zeros (GB/T 9704-2012 §7.3.5)."""
    return f"{day.year}年{day.month}月{day.day}日"


def month_day(day: dt.date) -> str:
    """5月11日, as in 于5月11日至5月14日."""
    return f"{day.month}月{day.day}日"


def local_time(moment: dt.datetime) -> dt.datetime:
    """The wall-clock time to print: naive times as given, others in :data:`PRINT_TZ`."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(PRINT_TZ).replace(tzinfo=None)


def clock_time(moment: dt.datetime) -> str:
    """9时05分: the hour as is, the minutes in two digits."""
    return f"{moment.hour}时{moment.minute:02d}分"


def time_span(start: dt.datetime, end: dt.datetime) -> str:
    """2021年5月11日9时05分至11时30分; the end's date is printed when it is another day
    (its year only when it is another year)."""
    a, b = local_time(start), local_time(end)
    if b.date() == a.date():
        until = ""
    elif b.year == a.year:
        until = month_day(b.date())
    else:
        until = chinese_date(b.date())
    return f"{chinese_date(a.date())}{clock_time(a)}至{until}{clock_time(b)}"


def date_span(start: dt.date, end: dt.date) -> str:
    """5月11日至5月14日; one day is 5月11日; across a year the years are printed."""
    if start == end:
        return month_day(start)
    if start.year != end.year:
        return f"{chinese_date(start)}至{chinese_date(end)}"
    return f"{month_day(start)}至{month_day(end)}"


def amount_text(amount: Decimal | int | float | str) -> str:
    """86,420.00: yuan with two decimals and thousands separators, as in a financial table."""
    return f"{Decimal(str(amount)):,.2f}"


_DIGITS = "零一二三四五六七八九"


def _chinese_numeral(n: int) -> str:
    """1 → 一, 10 → 十, 15 → 十五, 21 → 二十一 (99 headings of one level is plenty)."""
    if n < 10:
        return _DIGITS[n]
    if n >= 100:
        return str(n)
    tens = "" if n < 20 else _DIGITS[n // 10]
    return tens + "十" + (_DIGITS[n % 10] if n % 10 else "")


def heading_number(level: int, n: int) -> str:
    """The number in front of a heading: 一、 （一） 1. （1） for levels 1–4."""
    if level == 1:
        return _chinese_numeral(n) + "、"
    if level == 2:
        return f"（{_chinese_numeral(n)}）"
    if level == 3:
        return f"{n}."
    return f"（{n}）"


# ----------------------------------------------------------------------------- literal text


def printable(text: str) -> str:
    """Drop characters XML cannot hold and that docxtpl would turn into structure (\\a \\f
    \\v); the schemas refuse them already, this is the last line of defence."""
    return "".join(
        ch
        for ch in text
        if ch in "\n\t"
        or unicodedata.category(ch) not in ("Cc", "Cs")
        and (ord(ch) & 0xFFFE) != 0xFFFE
    )


def _guard(xml_text: str) -> str:
    # docxtpl turns "{_{", "}_}", "{_%", "%_}" in its output into "{{", "}}", "{%", "%}";
    # a character reference keeps what the user typed.
    return xml_text.replace("{_", "{&#95;").replace("_}", "&#95;}")


def literal(text: str) -> Markup:
    """A user string for a simple ``{{ field }}``: escaped and printed as typed."""
    return Markup(_guard(str(escape(printable(text)))))


def balance_title(text: str, tpl: DocxTemplate | None = None, style: str = "WenshuTitle") -> str:
    """A title broken into lines across the 版心 (:func:`~service.documents.metrics.
    balance_lines`: whole words, a 梯形 or 菱形, a title broken by hand as typed), in the
    size of the template's ``style`` and the width of its 版心 (without a template: those of
    the committed ones, 2号 across 156 mm)."""
    if tpl is None:
        return balance_lines(text, TEXT_WIDTH_PT, TITLE_SIZE_PT)
    tpl.init_docx()
    document = tpl.docx
    page = measure(document)
    known = {s.style_id for s in document.styles}
    size = style_font(document, style).size_pt if style in known else TITLE_SIZE_PT
    return balance_lines(text, page.text_width_pt, size)


# ----------------------------------------------------------------------------- paragraphs


class Fragment:
    """Paragraphs built with python-docx against the template's styles and inserted in place
    of a ``{{p name }}`` paragraph. Text is set through python-docx, so it is XML-escaped and
    never parsed as a template."""

    def __init__(self, tpl: DocxTemplate) -> None:
        tpl.init_docx()
        element = parse_xml(f"<w:document {nsdecls('w')}><w:body/></w:document>")
        # Bound to the template's main part: styles resolve and pictures attach there.
        self.doc = DocxDocument(element, tpl.docx.part)
        self.paragraphs: list[Paragraph] = []

    def add(self, style_id: str, text: str = "", char_style: str | None = None) -> Paragraph:
        p = self.doc.add_paragraph()
        paragraph_xml(p).style = style_id
        if text:
            run = p.add_run(printable(text))
            if char_style:
                run_xml(run).style = char_style
        self.paragraphs.append(p)
        return p

    def __html__(self) -> str:
        body = self.doc.element.body
        return _guard("".join(etree.tostring(child, encoding="unicode") for child in body))

    __str__ = __html__


def set_indent(p: Paragraph, *, left_pt: float = 0, right_pt: float = 0) -> None:
    """Direct left/right indent that also overrides the style's indent in characters."""
    ind = paragraph_xml(p).get_or_add_pPr().get_or_add_ind()
    ind.set(qn("w:left"), str(round(left_pt * 20)))
    ind.set(qn("w:right"), str(round(right_pt * 20)))
    ind.set(qn("w:leftChars"), "0")
    ind.set(qn("w:rightChars"), "0")


def text_lines(text: str) -> list[str]:
    """The non-blank lines of a multi-line field, stripped: each becomes a paragraph."""
    return [line.strip() for line in str(text).split("\n") if line.strip()]


def write_paragraphs(
    frag: Fragment, texts: Iterable[str], style: str = "WenshuBody", empty: str = "无。"
) -> Fragment:
    """Each non-blank line of ``texts`` as a paragraph; ``empty`` when there is none (a
    section of a form or report with nothing in it says so: 无。)."""
    lines = [line for text in texts for line in text_lines(text)]
    for line in lines or [empty]:
        frag.add(style, line)
    return frag


def write_blocks(frag: Fragment, blocks: Iterable[Mapping[str, Any]]) -> None:
    """正文 blocks as paragraphs; heading numbers counted per level, reset under a parent."""
    counters = [0, 0, 0, 0]
    for block in blocks:
        if "heading" in block:
            level = int(block["level"])
            counters[level - 1] += 1
            counters[level:] = [0] * (4 - level)
            heading = heading_number(level, counters[level - 1]) + block["heading"]
            p = frag.add(f"WenshuHeading{level}", heading)
            lines = text_lines(str(block.get("text") or ""))
            if lines:
                # Levels 1–2 have their own font; a run-in text needs a full stop after them.
                if level <= 2 and heading[-1] not in "。！？；：.!?;:":
                    p.runs[0].text = printable(heading + "。")
                run_xml(p.add_run(printable(lines[0]))).style = "WenshuBodyChar"
                p.paragraph_format.keep_with_next = False  # a paragraph of text, not a heading
                for line in lines[1:]:
                    frag.add("WenshuBody", line)
        else:
            for line in str(block["text"]).split("\n"):
                if line.strip():
                    frag.add("WenshuBody", line.strip())


def signature_block(tpl: DocxTemplate, name: str, date_text: str, seal: bytes | None) -> Fragment:
    """署名 and 成文日期 (GB/T 9704-2012 §7.3.5), in the styles WenshuSignature and WenshuDate.

    Sealed: the date 4 characters from the right, the name centred over it, two blank
    lines above so the seal's top is within a line of the text and both lines sit a little
    below the seal's centre; the seal centred on the date. Unsealed: the name 2 characters
    from the right after one blank line, the date under it starting 2 characters further
    right. Widths are the printed ones, measured with the styles' fonts
    (:mod:`service.documents.metrics`), so the centres agree on paper; a character, a line
    and the 版心 are the template's (:func:`measure`).
    """
    frag = Fragment(tpl)
    page = measure(tpl.docx)
    char_pt, line_pt = page.char_pt, page.line_pt
    w_name = printed_width(name, style_font(tpl.docx, "WenshuSignature"))
    w_date = printed_width(date_text, style_font(tpl.docx, "WenshuDate"))
    if seal:
        for _ in range(2):
            frag.add("WenshuSignature")
        right_date = 4 * char_pt
        right_name = max(0.0, right_date + (w_date - w_name) / 2)
    else:
        frag.add("WenshuSignature")
        right_name = 2 * char_pt
        right_date = right_name + w_name - 2 * char_pt - w_date
        if right_date < 2 * char_pt:
            right_date = 2 * char_pt
            right_name = right_date + w_date + 2 * char_pt - w_name
    p_name = frag.add("WenshuSignature", name)
    set_indent(p_name, right_pt=right_name)
    p_date = frag.add("WenshuDate", date_text)
    set_indent(p_date, right_pt=right_date)
    if seal:
        diameter = Pt(SEAL_DIAMETER_MM / 25.4 * 72)
        centre_x = Pt(page.text_width_pt - right_date - w_date / 2)
        x = Emu(centre_x - diameter // 2)
        y = Emu(-round(Pt(1.8 * line_pt)))
        float_seal(p_name.add_run(), seal, x_emu=x, y_emu=y, diameter_mm=SEAL_DIAMETER_MM)
    return frag


def normalise_docx(data: bytes) -> bytes:
    """Rewrite a DOCX zip with fixed timestamps, so equal content gives equal bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zout.writestr(info, zin.read(item.filename))
    return out.getvalue()

"""Render validated input into a DOCX from the type's template in ``doc_templates/``.

Templates are trusted files; user data never is. Simple fields go through docxtpl with
autoescape on, and everything of variable length (正文, 附件, 署名 and seal) is built as
python-docx paragraphs with literal text, using the paragraph styles defined in the template,
and inserted as a fragment. So ``{{ 7*7 }}``, ``{% if %}``, ``<b>&`` typed by a user reach
paper exactly as typed.

Each document type registers a :class:`DoctypeRenderer` (a function that builds the docxtpl
context, and optionally one that adjusts the rendered document). ``notice`` is defined here;
other types add themselves with :func:`register_doctype` from their own module.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docx.document import Document as DocxDocument
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Emu, Pt
from docx.text.paragraph import Paragraph
from docxtpl import DocxTemplate
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree
from markupsafe import Markup, escape

from archive.errors import NotFoundError, ValidationError, WenshuError
from service.seal import SEAL_DIAMETER_MM, float_seal

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

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "doc_templates"
_ZIP_TIME = (2026, 1, 1, 0, 0, 0)

# Page geometry of the GB/T 9704-2012 templates (twips); see scripts/build_templates.py.
TEXT_WIDTH_PT = 8845 / 20
LINE_PT = 579 / 20
CHAR_PT = 16.0
MARK_SIZE_PT = 42.0


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


@dataclass(frozen=True)
class DoctypeRenderer:
    build_context: Callable[[DocxTemplate, RenderJob], dict[str, Any]]
    """Returns the docxtpl context; every variable of the template must be in it."""
    finish: Callable[[DocxDocument, RenderJob], None] | None = None
    """Adjusts the rendered document (fit the mark, set properties) before it is saved."""
    label: str = ""
    """The Chinese name of the type, stored as the DOCX subject."""


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

    ``wenhao`` is printed as given (a real number, or a placeholder for a preview). With
    ``seal_png`` the seal floats over the 署名 and 成文日期; without it the unsealed layout
    of GB/T 9704-2012 §7.3.5.2 is used. Equal arguments give byte-identical DOCX files.
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


# ----------------------------------------------------------------------------- shared helpers


def chinese_date(day: dt.date) -> str:
    """2021年4月23日: Arabic numerals, no leading zeros (GB/T 9704-2012 §7.3.5)."""
    return f"{day.year}年{day.month}月{day.day}日"


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


def _printable(text: str) -> str:
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
    return Markup(_guard(str(escape(_printable(text)))))


def em_width(text: str) -> float:
    """Printed width in characters: CJK, full-width and (in a CJK font) ambiguous characters
    such as “ ” — count 1, the rest about ½."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WFA" else 0.5 for ch in text)


_NO_LINE_START = set("，。、；：？！）》」』”’〕】…—·,.;:?!)")
_NO_LINE_END = set("（《「『“‘〔【(")


def _word_boundaries(text: str) -> set[int]:
    """Offsets between words (jieba, loaded once per process); every offset without it."""
    try:
        import jieba
    except ImportError:  # pragma: no cover - jieba is a dependency of the search index
        return set(range(1, len(text)))
    jieba.setLogLevel(60)
    cuts, pos = set(), 0
    for word in jieba.cut(text):
        pos += len(word)
        cuts.add(pos)
    return cuts


def balance_title(text: str, size_pt: float = 22.0) -> str:
    """Break a long title into lines of even length at word boundaries (GB/T 9704-2012
    §7.3.1: keep words whole, form a trapezoid or diamond, never a full line and a stub like
    "…的通\n知"). A title the user broke by hand is left as typed."""
    if "\n" in text:
        return text
    per_line = int(TEXT_WIDTH_PT // (size_pt - 0.25))
    width = em_width(text)
    if width <= per_line:
        return text
    lines = math.ceil(width / per_line)
    target = width / lines
    n = len(text)
    words = _word_boundaries(text)
    prefix = [0.0]
    for ch in text:
        prefix.append(prefix[-1] + em_width(ch))

    def cost(i: int, j: int) -> float:
        length = prefix[j] - prefix[i]
        if length > per_line:
            return math.inf
        c = (length - target) ** 2
        if j < n:
            if text[j] in _NO_LINE_START or text[j - 1] in _NO_LINE_END:
                return math.inf
            if text[j - 1].isascii() and text[j].isascii() and text[j].isalnum():
                return math.inf
            if j not in words:
                c += 40.0
            if text[j] == "《" or text[j - 1] == "》" or text[j : j + 3] == "的通知":
                c -= 2.0
        return c

    # best[k][j]: least cost of setting text[:j] on k lines.
    best = [[math.inf] * (n + 1) for _ in range(lines + 1)]
    back = [[0] * (n + 1) for _ in range(lines + 1)]
    best[0][0] = 0.0
    for k in range(1, lines + 1):
        for j in range(1, n + 1):
            for i in range(j):
                c = best[k - 1][i] + cost(i, j)
                if c < best[k][j]:
                    best[k][j], back[k][j] = c, i
    if math.isinf(best[lines][n]):
        return text
    cuts, j = [], n
    for k in range(lines, 0, -1):
        cuts.append(j)
        j = back[k][j]
    cuts.reverse()
    return "\n".join(text[a:b] for a, b in zip([0, *cuts[:-1]], cuts, strict=True))


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
        p._p.style = style_id
        if text:
            run = p.add_run(_printable(text))
            if char_style:
                run._r.style = char_style
        self.paragraphs.append(p)
        return p

    def __html__(self) -> str:
        body = self.doc.element.body
        return _guard("".join(etree.tostring(child, encoding="unicode") for child in body))

    __str__ = __html__


def set_indent(p: Paragraph, *, left_pt: float = 0, right_pt: float = 0) -> None:
    """Direct left/right indent that also overrides the style's indent in characters."""
    ind = p._p.get_or_add_pPr().get_or_add_ind()
    ind.set(qn("w:left"), str(round(left_pt * 20)))
    ind.set(qn("w:right"), str(round(right_pt * 20)))
    ind.set(qn("w:leftChars"), "0")
    ind.set(qn("w:rightChars"), "0")


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
            lines = [ln.strip() for ln in str(block.get("text") or "").split("\n") if ln.strip()]
            if lines:
                # Levels 1–2 have their own font; a run-in text needs a full stop after them.
                if level <= 2 and heading[-1] not in "。！？；：.!?;:":
                    p.runs[0].text = _printable(heading + "。")
                p.add_run(_printable(lines[0]))._r.style = "WenshuBodyChar"
                p.paragraph_format.keep_with_next = False  # a paragraph of text, not a heading
                for line in lines[1:]:
                    frag.add("WenshuBody", line)
        else:
            for line in str(block["text"]).split("\n"):
                if line.strip():
                    frag.add("WenshuBody", line.strip())


def _set_properties(document: DocxDocument, job: RenderJob, label: str) -> None:
    props = document.core_properties
    props.title = _printable(str(job.data.get("title") or label))
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


# ----------------------------------------------------------------------------- notice


def _notice_context(tpl: DocxTemplate, job: RenderJob) -> dict[str, Any]:
    d = job.data
    org = job.org
    signed_on: dt.date = d.get("date") or job.issue_date
    printed_on: dt.date = d.get("print_date") or job.issue_date
    attachments = list(d.get("attachments") or [])

    body = Fragment(tpl)
    write_blocks(body, d["body"])
    contact = d.get("contact")
    if contact:
        lines = [f"联系人：{contact['name']}"]
        lines += [f"联系电话：{contact['phone']}"] if contact.get("phone") else []
        lines += [f"电子邮箱：{contact['email']}"] if contact.get("email") else []
        for i, line in enumerate(lines, start=1):  # kept together on one page
            body.add("WenshuBody", line).paragraph_format.keep_with_next = i < len(lines)

    secrecy = d.get("secrecy") or ""
    if secrecy and d.get("secrecy_term"):
        secrecy += "★" + d["secrecy_term"]
    cc = [c for c in d.get("cc") or [] if c]
    note = d.get("note") or ""
    listing = _attachment_list(tpl, attachments)
    # The page with the seal must carry text (GB/T 9704-2012 §7.3.5.1): the last line of the
    # body or of the 附件说明 travels with the 署名 to a new page if need be.
    last = (listing if isinstance(listing, Fragment) else body).paragraphs[-1]
    last.paragraph_format.keep_with_next = True
    return {
        "secrecy_line": literal(secrecy),
        "urgency_line": literal(d.get("urgency") or ""),
        "mark": literal(org.mark),
        "wenhao": literal(job.wenhao),
        "signer": literal(d.get("signer") or ""),
        "title": literal(balance_title(d["title"])),
        "addressee_line": literal("，".join(d["addressees"]) + "："),
        "body": body,
        "attachment_list": listing,
        "signature": _signature(tpl, org.name, chinese_date(signed_on), job.seal_png),
        "note": literal(f"（{note}）" if note else ""),
        "attachment_pages": _attachment_pages(tpl, attachments),
        "cc_line": literal("抄送：" + "，".join(cc) + "。" if cc else ""),
        "printed_by": literal(d.get("printed_by") or org.name),
        "print_date_text": literal(chinese_date(printed_on) + "印发"),
    }


def _attachment_list(tpl: DocxTemplate, attachments: list[Mapping[str, Any]]) -> Fragment | str:
    """附件说明: 附件：1. 标题 / 2. 标题, names aligned; no punctuation after a name."""
    if not attachments:
        return ""
    frag = Fragment(tpl)
    titles = [str(a["title"]).rstrip("。.，,；;") for a in attachments]
    if len(titles) == 1:
        p = frag.add("WenshuAttachmentList", "附件：" + titles[0])
        ind = p._p.get_or_add_pPr().get_or_add_ind()
        ind.set(qn("w:left"), str(round(5 * CHAR_PT * 20)))
        ind.set(qn("w:leftChars"), "500")
        ind.set(qn("w:hanging"), str(round(3 * CHAR_PT * 20)))
        ind.set(qn("w:hangingChars"), "300")
        return frag
    for i, title in enumerate(titles, start=1):
        style = "WenshuAttachmentList" if i == 1 else "WenshuAttachmentListMore"
        p = frag.add(style, ("附件：" if i == 1 else "") + f"{i}.")
        p.add_run().add_tab()
        p.add_run(_printable(title))
    return frag


def _signature(tpl: DocxTemplate, name: str, date_text: str, seal: bytes | None) -> Fragment:
    """署名 and 成文日期 (GB/T 9704-2012 §7.3.5).

    Sealed: the date 4 characters from the right, the name centred over it, two blank
    lines above so the seal's top is within a line of the text and both lines sit a little
    below the seal's centre. Unsealed: the name 2 characters from the right after one blank
    line, the date under it starting 2 characters further right.
    """
    frag = Fragment(tpl)
    w_name, w_date = em_width(name) * CHAR_PT, em_width(date_text) * CHAR_PT
    if seal:
        for _ in range(2):
            frag.add("WenshuSignature")
        right_date = 4 * CHAR_PT
        right_name = max(0.0, right_date + (w_date - w_name) / 2)
    else:
        frag.add("WenshuSignature")
        right_name = 2 * CHAR_PT
        right_date = right_name + w_name - 2 * CHAR_PT - w_date
        if right_date < 2 * CHAR_PT:
            right_date = 2 * CHAR_PT
            right_name = right_date + w_date + 2 * CHAR_PT - w_name
    p_name = frag.add("WenshuSignature", name)
    set_indent(p_name, right_pt=right_name)
    p_date = frag.add("WenshuDate", date_text)
    set_indent(p_date, right_pt=right_date)
    if seal:
        diameter = Pt(SEAL_DIAMETER_MM / 25.4 * 72)
        centre_x = Pt(TEXT_WIDTH_PT - right_date - w_date / 2)
        x = Emu(centre_x - diameter // 2)
        y = Emu(-round(Pt(1.8 * LINE_PT)))
        float_seal(p_name.add_run(), seal, x_emu=x, y_emu=y, diameter_mm=SEAL_DIAMETER_MM)
    return frag


def _attachment_pages(tpl: DocxTemplate, attachments: list[Mapping[str, Any]]) -> Fragment | str:
    """Each attachment with a body: a new page, 附件N (黑体) top left, its title centred."""
    with_body = [(i, a) for i, a in enumerate(attachments, start=1) if a.get("body")]
    if not with_body:
        return ""
    frag = Fragment(tpl)
    for i, attachment in with_body:
        frag.add("WenshuAttachmentLabel", "附件" if len(attachments) == 1 else f"附件{i}")
        frag.add("WenshuAttachmentTitle", balance_title(attachment["title"]))
        write_blocks(frag, attachment["body"])
    return frag


def _finish_notice(document: DocxDocument, job: RenderJob) -> None:
    """Narrow the characters of a mark too long for the 版心 (as clerks do by hand)."""
    needed = em_width(job.org.mark) * MARK_SIZE_PT
    if needed <= TEXT_WIDTH_PT:
        return
    scale = TEXT_WIDTH_PT / needed
    width_pct = max(50, int(scale * 100))
    size_pt = MARK_SIZE_PT * min(1.0, scale / (width_pct / 100))
    for p in document.paragraphs:
        if p.style is not None and p.style.style_id == "WenshuMark":
            for run in p.runs:
                run.font.size = Pt(int(size_pt * 2) / 2)
                sz = run._r.get_or_add_rPr().find(qn("w:sz"))
                sz.addprevious(parse_xml(f'<w:w {nsdecls("w")} w:val="{width_pct}"/>'))


register_doctype("notice", DoctypeRenderer(_notice_context, _finish_notice, "通知"))

"""A document type's DOCX template, the example input kept next to it, and the contract a
template file must keep to be used: the one committed in ``doc_templates/`` or a version a
bureau uploaded for its org.

The committed templates are the source: people edit them in Word or WPS
(``scripts/build_templates.py`` only made the first ones). A renderer fills their docxtpl
placeholders, adds paragraphs in their named styles and reads the page from them (the 版心's
width for the title and the 署名, the styles' font sizes); python-docx gives a paragraph whose
style the template lacks the default look without a word, a placeholder dropped from a template
drops a value from paper, and a page set up otherwise moves the title and the seal. So each
type states the styles and placeholders it relies on (:class:`Template`), and
:meth:`Template.problems_of` checks a template file against them and against the page of GB/T
9704-2012 §5.2 (:data:`PAGE`), naming every problem in Chinese. ``wenshu template check``, the
upload of a template on 机构设置 and the tests ask it.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docx
from docx.document import Document as DocxDocument
from docx.oxml.ns import qn
from docxtpl import DocxTemplate
from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from archive.errors import NotFoundError
from service.documents.metrics import mapped_font_names, named_font

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "doc_templates"

log = logging.getLogger("wenshu.documents")

_STYLE_ID = re.compile(r'w:styleId="([^"]+)"')
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_PART = re.compile(r"word/(document|header\d*|footer\d*)\.xml")


@functools.lru_cache(maxsize=16)
def _statements_of(data: bytes) -> frozenset[str]:
    return frozenset(template_statements(data))


def template_statements(data: bytes) -> set[str]:
    """The Jinja tags of a DOCX template as docxtpl renders them (``{{ title }}``,
    ``{% if note %}`` …), with runs joined and spaces normalised."""
    tpl = DocxTemplate(io.BytesIO(data))
    tpl.init_docx()
    out: set[str] = set()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in z.namelist():
            if _PART.fullmatch(name):
                source = tpl.patch_xml(z.read(name).decode("utf-8"))
                for tag in _TAG.findall(re.sub(r"<[^>]+>", "", source)):
                    inner = " ".join(tag[2:-2].replace("-", " ").split())
                    out.add(tag[:2] + " " + inner + " " + tag[-2:])
    return out


_EMU_PER_MM = 36000


@dataclass(frozen=True)
class PageRule:
    """One measure of the page and what it must be, in millimetres."""

    label: str
    """Its name on paper and in a problem: 天头, 订口, 版心宽度 …"""
    mm: float
    tolerance_mm: float


PAGE = (
    PageRule("纸张宽度", 210.0, 1.0),
    PageRule("纸张高度", 297.0, 1.0),
    PageRule("天头（上白边）", 37.0, 1.0),
    PageRule("订口（左白边）", 28.0, 1.0),
    PageRule("版心宽度", 156.0, 1.0),
    PageRule("版心高度", 225.0, 1.0),
)
"""GB/T 9704-2012 §5.2.1–5.2.2: A4, 天头 37 mm ± 1 mm, 订口 28 mm ± 1 mm, 版心 156 mm × 225 mm
(the tolerance of the 版心 taken as the margins' 1 mm)."""


@dataclass(frozen=True)
class PageSetup:
    """One section's page as its ``<w:sectPr>`` sets it, in millimetres."""

    width: float
    height: float
    top: float
    bottom: float
    left: float
    right: float

    def measures(self) -> tuple[float, ...]:
        """In the order of :data:`PAGE`."""
        return (
            self.width,
            self.height,
            self.top,
            self.left,
            self.width - self.left - self.right,
            self.height - self.top - self.bottom,
        )


def page_setups(document: DocxDocument) -> list[PageSetup]:
    """Every section's page (a template has one; Word may add more)."""

    def mm(value: Any) -> float:
        return round(float(value or 0) / _EMU_PER_MM, 2)

    out = []
    for section in document.sections:
        gutter = section.gutter or 0
        out.append(
            PageSetup(
                width=mm(section.page_width),
                height=mm(section.page_height),
                top=mm(section.top_margin),
                bottom=mm(section.bottom_margin),
                left=mm((section.left_margin or 0) + gutter),  # 订口: the gutter is part of it
                right=mm(section.right_margin),
            )
        )
    return out


def page_problems(document: DocxDocument) -> list[str]:
    """What of the page is outside GB/T 9704-2012 §5.2 (:data:`PAGE`), section by section."""
    setups = page_setups(document)
    out = []
    for n, setup in enumerate(setups, start=1):
        where = f"第 {n} 节的" if len(setups) > 1 else ""
        for rule, value in zip(PAGE, setup.measures(), strict=True):
            if abs(value - rule.mm) > rule.tolerance_mm:
                out.append(
                    f"页面设置：{where}{rule.label}为 {round(value, 1):g} 毫米，"
                    f"应为 {rule.mm:g} 毫米（允许误差 ±{rule.tolerance_mm:g} 毫米）"
                )
    return out


def _style_names(document: DocxDocument) -> dict[str, str]:
    """Style id → the name Word shows (公文正文 …)."""
    out = {}
    for style in document.styles.element.iterfind(qn("w:style")):
        name = style.find(qn("w:name"))
        out[style.get(qn("w:styleId"))] = name.get(qn("w:val")) if name is not None else ""
    return out


@dataclass(frozen=True)
class Template:
    """One type's template and example input, and the contract between template and renderer."""

    file: str
    """The DOCX template, e.g. ``notice.docx`` (in ``folder``)."""
    sample: str
    """The realistic example input kept next to it, e.g. ``notice.sample.json``: the API's
    ``GET /api/v1/doctypes`` and the web form show it, the tests render it."""
    styles: frozenset[str] = frozenset()
    """Paragraph and character styles the renderer builds paragraphs in (style ids)."""
    placeholders: frozenset[str] = frozenset()
    """The docxtpl variables of the template: the renderer's context has exactly these."""
    folder: Path = field(default=TEMPLATES_DIR)
    """Where both files are: ``doc_templates/``."""

    @property
    def path(self) -> Path:
        return self.folder / self.file

    @property
    def sample_path(self) -> Path:
        return self.folder / self.sample

    def sample_input(self) -> dict[str, Any]:
        """The example input (a fresh copy each call)."""
        try:
            data: dict[str, Any] = json.loads(self.sample_path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise NotFoundError(f"没有示例输入 {self.sample}") from exc
        return data

    def statements(self) -> frozenset[str]:
        """The Jinja tags of the committed template: an uploaded one may use these only (its
        placeholders, and the conditions around them), so that no expression of its own runs
        when documents are rendered."""
        if not self.path.exists():
            return frozenset()
        return _statements_of(self.path.read_bytes())

    def problems(self) -> list[str]:
        """What the committed template file lacks of this contract (empty: it fits)."""
        if not self.path.exists():
            return [f"没有模板文件 {self.file}"]
        return [f"模板 {self.file}：{p}" for p in self.problems_of(self.path.read_bytes())]

    def problems_of(self, data: bytes) -> list[str]:
        """What the template file ``data`` lacks of this contract, or has beyond it, in
        Chinese (empty: it may be used): a DOCX at all; the styles the renderer writes in,
        each naming a font Wenshu maps (docs/fonts.md); exactly the placeholders the renderer
        fills; the page of GB/T 9704-2012 (:data:`PAGE`)."""
        if not data.startswith(b"PK\x03\x04"):
            return ["文件不是 DOCX 格式的 Word 文档（请在 Word 或 WPS 中另存为 .docx）"]
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                styles_xml = z.read("word/styles.xml").decode("utf-8")
            document = docx.Document(io.BytesIO(data))
        except Exception as exc:  # noqa: BLE001 - an uploaded file python-docx cannot read,
            # whatever breaks inside it (a zip without the parts, XML of another shape)
            log.info("not a readable template: %s: %s", type(exc).__name__, exc)
            return ["文件已损坏或不是 Word 文档（.docx）：请在 Word 或 WPS 中打开后重新保存"]
        out: list[str] = []
        try:
            tpl = DocxTemplate(io.BytesIO(data))
            found = tpl.get_undeclared_template_variables(SandboxedEnvironment())
        except TemplateError as exc:
            log.info("template syntax: %s", exc)
            out.append(
                "占位符写法有误：{{ }} 或 {% %} 不成对、被拆开或多了字符，请对照 docs/templates.md"
            )
            found = set(self.placeholders)
        else:
            known = self.statements()
            out += (
                [
                    f"有本类文书模板不用的模板语句 {t}（只能使用 docs/templates.md 所列的占位符，"
                    "勿在 {{ }} 或 {% %} 中另写表达式）"
                    for t in sorted(template_statements(data) - known)
                ]
                if known
                else []
            )
        have = set(_STYLE_ID.findall(styles_xml))
        names = _style_names(document)
        out += [
            f"缺少样式 {s}（须保留模板原有的样式，勿删除或改名）"
            for s in sorted(self.styles - have)
        ]
        out += [f"缺少占位符 {{{{ {p} }}}}" for p in sorted(self.placeholders - found)]
        out += [
            f"有本类文书没有的占位符 {{{{ {p} }}}}（只能使用 docs/templates.md 所列的占位符）"
            for p in sorted(found - self.placeholders)
        ]
        mapped = mapped_font_names()
        for style in sorted(self.styles & have):
            label = f"样式 {style}" + (f"（{names[style]}）" if names.get(style) else "")
            font = named_font(document, style)
            if font is None:
                out.append(f"{label}没有指定中文字体")
            elif mapped and font not in mapped:
                out.append(
                    f"{label}的中文字体 {font} 不在本系统的字体对照表中（docs/fonts.md），"
                    "会以别的字体印出"
                )
        out += page_problems(document)
        return out

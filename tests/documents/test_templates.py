"""The template contract (``wenshu template check``) on files edited the way Word or WPS saves
them, and the page read from the template by the renderer."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any

import docx
import pytest
from click.testing import CliRunner
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from lxml import etree

from schemas.notice import NoticeSchema
from service.doctypes import DOCTYPES, sample_input, template_path
from service.documents.convert.client import Converter
from service.documents.convert.instance import PoolSettings
from service.documents.layout import measure
from service.documents.render import Letterhead
from service.documents.seal import make_seal_png
from service.ops.cli import wenshu
from tests.support.glyphs import MM, pages

ORG = Letterhead(name="吕梁市医疗保障局", mark="吕梁市医疗保障局文件", zihao="吕医保发")
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
WP = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}"
SENTENCE = "以上记录情况属实。"
CHANGED = "以上记录情况属实，经被核查对象核对无误。"


def saved(document: docx.document.Document) -> bytes:
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def edited_record(sentence: str = CHANGED) -> bytes:
    """The 检查记录单 opened, a fixed sentence retyped, saved again: styles, placeholders and
    page kept, as a bureau's clerk would change it in Word."""
    d = docx.Document(str(template_path("inspection_record")))
    p = next(p for p in d.paragraphs if p.text == SENTENCE)
    p.runs[0].text = sentence
    for extra in p.runs[1:]:
        extra.text = ""
    return saved(d)


def without(doctype: str, placeholder: str) -> bytes:
    """The template with every ``{{ placeholder }}`` deleted."""
    d = docx.Document(str(template_path(doctype)))
    tag = "{{ " + placeholder + " }}"
    cells = [c for t in d.tables for row in t.rows for c in row.cells]
    for p in [*d.paragraphs, *(p for c in cells for p in c.paragraphs)]:
        for run in p.runs:
            run.text = run.text.replace(tag, "")
    return saved(d)


def with_margins(doctype: str, *, top_mm: float, left_mm: float) -> bytes:
    d = docx.Document(str(template_path(doctype)))
    section = d.sections[0]
    section.top_margin, section.left_margin = Mm(top_mm), Mm(left_mm)
    return saved(d)


def check(tmp_path: Path, data: bytes, doctype: str) -> tuple[int, str]:
    path = tmp_path / f"{doctype}.docx"
    path.write_bytes(data)
    result = CliRunner().invoke(wenshu, ["template", "check", str(path), "--type", doctype])
    return result.exit_code, result.output


@pytest.mark.parametrize("doctype", sorted(DOCTYPES))
def test_every_committed_template_passes_the_check(tmp_path: Path, doctype: str) -> None:
    code, out = check(tmp_path, template_path(doctype).read_bytes(), doctype)
    assert code == 0 and "可以作为" in out


def test_a_template_saved_again_with_a_sentence_changed_passes(tmp_path: Path) -> None:
    data = edited_record()
    assert data != template_path("inspection_record").read_bytes()
    code, out = check(tmp_path, data, "inspection_record")
    assert (code, out.strip()) == (
        0,
        f"{tmp_path / 'inspection_record.docx'}：可以作为检查记录单模板。",
    )


def test_a_missing_placeholder_is_named(tmp_path: Path) -> None:
    code, out = check(tmp_path, without("inspection_record", "location"), "inspection_record")
    assert code == 1
    assert "缺少占位符 {{ location }}" in out
    code, out = check(tmp_path, without("notice", "wenhao"), "notice")
    assert code == 1 and "缺少占位符 {{ wenhao }}" in out


def test_an_unknown_placeholder_is_named(tmp_path: Path) -> None:
    d = docx.Document(str(template_path("notice")))
    d.paragraphs[-1].add_run("{{ fax_number }}")
    code, out = check(tmp_path, saved(d), "notice")
    assert code == 1 and "有本类文书没有的占位符 {{ fax_number }}" in out


def test_an_expression_or_a_statement_of_its_own_is_refused(tmp_path: Path) -> None:
    """An uploaded template may use its type's placeholders and the conditions the committed
    one has, nothing that would compute at rendering time (the sandbox would stop an attribute
    walk only when a document is issued, and a loop would cost every issue)."""
    for tag in ("{{ title.__class__.__mro__ }}", "{% for x in range(10**9) %}{% endfor %}"):
        d = docx.Document(str(template_path("notice")))
        d.paragraphs[-1].add_run(tag)
        code, out = check(tmp_path, saved(d), "notice")
        assert code == 1 and "有本类文书模板不用的模板语句 {" in out, out
    d = docx.Document(str(template_path("notice")))
    d.paragraphs[-1].add_run("{{body}}")  # a known placeholder, spaced otherwise: still fits
    code, out = check(tmp_path, saved(d), "notice")
    assert code == 0, out


def test_wrong_margins_are_named_top_and_binding_edge(tmp_path: Path) -> None:
    code, out = check(tmp_path, with_margins("notice", top_mm=30, left_mm=20), "notice")
    assert code == 1
    assert "天头（上白边）为 30 毫米，应为 37 毫米" in out
    assert "订口（左白边）为 20 毫米，应为 28 毫米" in out
    assert "版心宽度为 164 毫米，应为 156 毫米" in out
    # within the 1 mm GB/T 9704 allows: no problem
    code, _ = check(tmp_path, with_margins("notice", top_mm=37.8, left_mm=27.3), "notice")
    assert code == 0


def test_a_missing_style_a_font_not_mapped_and_a_non_docx_are_named(tmp_path: Path) -> None:
    d = docx.Document(str(template_path("notice")))
    styles = d.styles.element
    body = next(s for s in styles.iterfind(f"{W}style") if s.get(f"{W}styleId") == "WenshuHeading2")
    styles.remove(body)
    date = d.styles.get_by_id("WenshuDate", WD_STYLE_TYPE.PARAGRAPH).element
    date.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "微软雅黑")
    code, out = check(tmp_path, saved(d), "notice")
    assert code == 1
    assert "缺少样式 WenshuHeading2" in out
    assert "WenshuDate" in out and "微软雅黑 不在本系统的字体对照表中" in out
    code, out = check(tmp_path, b"%PDF-1.7 not a template", "notice")
    assert code == 1 and "不是 DOCX" in out


def test_a_broken_tag_and_a_file_that_is_no_word_document_are_named(tmp_path: Path) -> None:
    d = docx.Document(str(template_path("notice")))
    d.paragraphs[-1].add_run("{{ cc_line")  # a tag cut in two, as a careless edit leaves it
    code, out = check(tmp_path, saved(d), "notice")
    assert code == 1 and "占位符写法有误" in out
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<x/>")
        z.writestr("word/styles.xml", "<x/>")
    code, out = check(tmp_path, buf.getvalue(), "notice")
    assert code == 1 and "文件已损坏或不是 Word 文档" in out and "Error" not in out


# ----------------------------------------------------------------------------- the page read


def _notice_template(*, right_mm: float | None = None, title_pt: float | None = None) -> bytes:
    d = docx.Document(str(template_path("notice")))
    if right_mm is not None:
        d.sections[0].right_margin = Mm(right_mm)
    if title_pt is not None:
        title = d.styles.get_by_id("WenshuTitle", WD_STYLE_TYPE.PARAGRAPH)
        title.font.size = Pt(title_pt)
    return saved(d)


def _render(data: dict, template: bytes | None) -> bytes:
    return DOCTYPES["notice"].render(
        NoticeSchema().load(data),
        org=ORG,
        wenhao="吕医保发〔2026〕3号",
        issue_date=dt.date(2026, 11, 22),
        seal_png=make_seal_png(ORG.name),
        template_docx=template,
    )


def _seal_x_pt(blob: bytes) -> float:
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        body = etree.fromstring(z.read("word/document.xml"))
    anchor = next(body.iter(f"{WP}anchor"))
    return int(anchor.find(f"{WP}positionH/{WP}posOffset").text) / 12700


def _title(blob: bytes) -> list[str]:
    d = docx.Document(io.BytesIO(blob))
    title = next(p for p in d.paragraphs if p.style.style_id == "WenshuTitle")
    return title.text.split("\n")


def test_the_renderer_reads_the_page_and_the_title_size_from_the_template() -> None:
    data = sample_input("notice")
    data["title"] = "关于做好医保基金监管工作的通知"  # 15 characters: one line of 2号
    default = _render(data, None)
    narrower = _notice_template(right_mm=26.9)  # 0.9 mm narrower 版心, within the tolerance
    assert measure(docx.Document(io.BytesIO(narrower))).text_width_pt == pytest.approx(
        442.25 - 0.9 / 25.4 * 72, abs=0.1
    )
    # the seal stays centred on the date, which moved left with the right margin
    moved = _seal_x_pt(default) - _seal_x_pt(_render(data, narrower))
    assert moved == pytest.approx(0.9 / 25.4 * 72, abs=0.2)
    # a title set larger in the template's style is balanced for that size
    assert len(_title(default)) == 1
    lines = _title(_render(data, _notice_template(title_pt=30)))
    assert len(lines) == 2 and all(len(line) >= 6 for line in lines)


# ----------------------------------------------------------------------------- on paper


@pytest.fixture(scope="module")
def converter(converter_dir: dict[str, Any]) -> Converter:
    return Converter(PoolSettings(run_dir=converter_dir["CONVERTER_DIR"], size=2))


def _bureau_notice_template() -> bytes:
    """A bureau's notice template: 版心 moved 0.9 mm right and 0.3 mm narrower (within GB/T
    9704's 1 mm), the 署名 and 成文日期 in 小三 (15 pt), the title in 24 pt, the body's face
    renamed 仿宋 as Word and WPS name it."""
    d = docx.Document(str(template_path("notice")))
    section = d.sections[0]
    section.left_margin, section.right_margin = Mm(28.9), Mm(25.4)
    for style_id in ("WenshuSignature", "WenshuDate"):
        d.styles.get_by_id(style_id, WD_STYLE_TYPE.PARAGRAPH).font.size = Pt(15)
    d.styles.get_by_id("WenshuTitle", WD_STYLE_TYPE.PARAGRAPH).font.size = Pt(24)
    body = d.styles.get_by_id("WenshuBody", WD_STYLE_TYPE.PARAGRAPH).element
    body.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "仿宋")
    return saved(d)


@pytest.mark.soffice
def test_a_bureaus_template_keeps_the_seal_on_the_date_and_the_title_in_its_版心(
    converter: Converter, tmp_path: Path
) -> None:
    template = _bureau_notice_template()
    assert DOCTYPES["notice"].template.problems_of(template) == []
    data = sample_input("notice")
    pdf = converter.to_pdf(_render(data, template))
    sealed = [p for p in pages(pdf) if p.images]
    assert len(sealed) == 1
    page = sealed[0]
    date = page.find("2021年4月23日")[-1]  # the sample's 成文日期
    name = page.find(ORG.name)[-1]
    assert {g.size for g in date} == {15.0}
    date_centre = (date[0].x0 + date[-1].x1) / 2
    x0, y0, x1, y1 = page.images[0]
    assert abs((x0 + x1) / 2 - date_centre) < 1 * MM
    assert abs((name[0].x0 + name[-1].x1) / 2 - date_centre) < 1 * MM
    assert y0 < date[0].y0 < y1 and y0 < name[0].y0 < y1
    # the date's 4 characters from the right edge of the template's 版心, not the default's
    right_edge = (210 - 25.4) * MM
    assert abs(right_edge - date[-1].x1 - 4 * 16) < 1 * MM
    first = pages(pdf)[0]
    title = [g for g in first.glyphs if g.size == 24.0 and g.text.strip()]
    lines = sorted({round(g.y0) for g in title}, reverse=True)
    assert len(lines) == 3  # 44 characters of 24 pt in 155.7 mm
    assert all(28.9 * MM - 1 < g.x0 and g.x1 < right_edge + 1 for g in title)


@pytest.mark.soffice
def test_a_title_is_balanced_in_the_size_the_template_gives_it(converter: Converter) -> None:
    """19 characters fit one line of 2号 (22 pt), not of 24 pt: the title is broken between
    words into two lines, not left to LibreOffice, which would wrap its last character."""
    data = sample_input("notice")
    data["title"] = "关于做好2026年度医保基金监管工作的通知"
    first = pages(converter.to_pdf(_render(data, _bureau_notice_template())))[0]
    title = [g for g in first.glyphs if g.size == 24.0 and g.text.strip()]
    rows: dict[int, str] = {}
    for g in title:
        rows[round(g.y0)] = rows.get(round(g.y0), "") + g.text
    # a 梯形 of whole words (GB/T 9704-2012 §7.3.1)
    assert [rows[y] for y in sorted(rows, reverse=True)] == [
        "关于做好2026年度",
        "医保基金监管工作的通知",
    ]

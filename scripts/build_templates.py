#!/usr/bin/env python3
"""The bootstrap that made the first DOCX templates in doc_templates/: 通知 (notice.docx, the
GB/T 9704-2012 red-header notice), 检查记录单 (inspection_record.docx), 询问笔录
(interview_transcript.docx) and 检查报告 (inspection_report.docx), the last three after the forms
of seed 002.

Nobody needs to run it. The committed .docx files are the source: they are edited in Word or
WPS (docs/templates.md), and what a template must keep is the contract of ``wenshu template
check FILE --type T`` (placeholders, styles, fonts, the GB/T 9704 page), not this script's
bytes. Running it overwrites the committed templates with its own version of them, losing
whatever was changed in Word since; it stays as the record of how the measurements below were
arrived at, and to start a new type's template from the styles of the nearest one.

The templates are ordinary Word/WPS documents: fonts, sizes and spacing live in named paragraph
styles (公文正文, 公文一级标题, 发文机关标志, 签名栏 …), the forms' tables are ordinary tables, and
the placeholders are docxtpl tags in plain runs. Data-dependent parts (正文, 附件, findings,
questions and answers, 署名 with the seal) arrive as subdocuments that use these styles;
service/documents/render_*.py build them.

    .venv/bin/python scripts/build_templates.py NEW_TYPE    # writes doc_templates/NEW_TYPE.docx
    .venv/bin/python scripts/build_templates.py --check     # differs from the committed files?
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import re
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from docx import Document
from docx.document import Document as DocxDocument
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Mm, Twips

from service.documents._internals import replace_part_bytes, section_xml, story_xml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "doc_templates"

# ---------------------------------------------------------------- measurements (twips, 1/20 pt)
# Page: A4, 天头 37 mm, 订口 28 mm, 版心 156 × 225 mm (GB/T 9704-2012 §5.2).
PAGE_W, PAGE_H = 11906, 16838
MARGIN_TOP, MARGIN_BOTTOM, MARGIN_LEFT, MARGIN_RIGHT = 2098, 1984, 1587, 1474
TEXT_W = PAGE_W - MARGIN_LEFT - MARGIN_RIGHT  # 8845 = 156 mm
LINE = 579  # 28.95 pt: 22 lines fill the 225 mm 版心 (22 × 579 = 12738 ≤ 12756)
CHAR = 320  # one 3号 (16 pt) character
# 28 characters a line: 156 mm holds 27.6 characters of 16 pt, so characters are set 0.25 pt
# closer (15.75 pt pitch). A Word character grid (docGrid linesAndChars) would say the same
# but LibreOffice lays such a grid out far too wide, so the spacing is in the styles instead.
CHAR_TIGHTEN = -5
# Distance from the page foot to the footer: puts the page number's dashes ~7 mm under the 版心.
FOOTER_DIST = 1418
# Measured on LibreOffice output: the mark's top edge 35 mm under the top of the 版心 (after
# the three lines kept for 份号/密级/紧急程度), the 发文字号 two blank lines under the mark, the red
# rule 4 mm under the 发文字号 (border space 6 pt).
MARK_BEFORE = 667 - LINE
WENHAO_BEFORE = 835
HEADER_DIST = 851

RED = "E60000"
FANGSONG, XIAOBIAOSONG, HEITI, KAITI, SONGTI = (
    "仿宋_GB2312",
    "方正小标宋简体",
    "黑体",
    "楷体_GB2312",
    "宋体",
)
SIZE_3, SIZE_2, SIZE_4 = 32, 44, 28  # half-points: 3号 16 pt, 2号 22 pt, 4号 14 pt
SIZE_MARK = 84  # 发文机关标志: 42 pt (初号); render.py narrows the characters of a long mark

# Fonts as Word sees them: charset 86 = GB2312, and the names Windows ships as fallbacks.
FONT_TABLE = {
    FANGSONG: ("仿宋", "02010609030101010101", "modern", "fixed"),
    XIAOBIAOSONG: ("宋体", "02000000000000000000", "script", "default"),
    HEITI: ("SimHei", "02010609060101010101", "modern", "fixed"),
    KAITI: ("楷体", "02010609030101010101", "modern", "fixed"),
    SONGTI: ("SimSun", "02010600030101010101", "auto", "variable"),
}

STYLES_WITH_EFFECTS = "http://schemas.microsoft.com/office/2007/relationships/stylesWithEffects"
FIXED_TIME = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
ZIP_TIME = (2026, 1, 1, 0, 0, 0)


# ---------------------------------------------------------------- XML helpers
def rfonts(name: str) -> str:
    return (
        f'<w:rFonts w:ascii="{name}" w:eastAsia="{name}" w:hAnsi="{name}" '
        f'w:cs="{name}" w:hint="eastAsia"/>'
    )


def rpr(font: str | None = None, size: int | None = None, color: str | None = None) -> str:
    parts = []
    if font:
        parts.append(rfonts(font))
    if color:
        parts.append(f'<w:color w:val="{color}"/>')
    if size:
        parts.append(f'<w:sz w:val="{size}"/><w:szCs w:val="{size}"/>')
    return "<w:rPr>" + "".join(parts) + "</w:rPr>" if parts else ""


def spacing(before: int = 0, after: int = 0, line: int = LINE) -> str:
    return f'<w:spacing w:before="{before}" w:after="{after}" w:line="{line}" w:lineRule="exact"/>'


def indent(
    left: int = 0,
    right: int = 0,
    first: int = 0,
    hanging: int = 0,
    chars: bool = True,
    unit: int = CHAR,
) -> str:
    """An indent in twips, also expressed in characters of ``unit`` twips (Word shows
    "2 字符" and prefers the character value when both are given)."""
    attrs = [f'w:left="{left}"', f'w:right="{right}"']
    if chars:
        attrs += [f'w:leftChars="{left * 100 // unit}"', f'w:rightChars="{right * 100 // unit}"']
    if hanging:
        attrs.append(f'w:hanging="{hanging}"')
        if chars:
            attrs.append(f'w:hangingChars="{hanging * 100 // unit}"')
    else:
        attrs.append(f'w:firstLine="{first}"')
        if chars:
            attrs.append(f'w:firstLineChars="{first * 100 // unit}"')
    return "<w:ind " + " ".join(attrs) + "/>"


def paragraph_style(
    style_id: str,
    name: str,
    ppr: str,
    run: str = "",
    based_on: str = "Normal",
    next_style: str | None = None,
    outline: int | None = None,
    priority: int = 10,
) -> str:
    outline_xml = f'<w:outlineLvl w:val="{outline}"/>' if outline is not None else ""
    # pPr children must follow the schema order; callers pass them in that order and the
    # outline level goes last but before jc-independent items, which Word tolerates.
    return (
        f'<w:style w:type="paragraph" w:customStyle="1" w:styleId="{style_id}">'
        f'<w:name w:val="{name}"/><w:basedOn w:val="{based_on}"/>'
        f'<w:next w:val="{next_style or style_id}"/><w:uiPriority w:val="{priority}"/><w:qFormat/>'
        f"<w:pPr>{ppr}{outline_xml}</w:pPr>{run}</w:style>"
    )


def character_style(style_id: str, name: str, run: str) -> str:
    return (
        f'<w:style w:type="character" w:customStyle="1" w:styleId="{style_id}">'
        f'<w:name w:val="{name}"/><w:basedOn w:val="DefaultParagraphFont"/>'
        f'<w:uiPriority w:val="10"/><w:qFormat/>{run}</w:style>'
    )


def base_styles(size: int = SIZE_3, line: int = LINE, tighten: int = CHAR_TIGHTEN) -> list[str]:
    """Document defaults, Normal and the built-in styles every template needs: 仿宋 of
    ``size`` half-points on exact lines of ``line`` twips, Chinese language."""
    base_rpr = (
        f'{rfonts(FANGSONG)}<w:kern w:val="2"/><w:sz w:val="{size}"/><w:szCs w:val="{size}"/>'
        '<w:lang w:val="en-US" w:eastAsia="zh-CN" w:bidi="ar-SA"/>'
    )
    return [
        f"<w:docDefaults><w:rPrDefault><w:rPr>{base_rpr}</w:rPr></w:rPrDefault>"
        f"<w:pPrDefault><w:pPr>{spacing(line=line)}</w:pPr></w:pPrDefault></w:docDefaults>",
        '<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/>'
        '<w:qFormat/><w:pPr><w:widowControl w:val="0"/><w:autoSpaceDE w:val="0"/>'
        f'<w:autoSpaceDN w:val="0"/>{spacing(line=line)}<w:jc w:val="both"/></w:pPr>'
        f'<w:rPr>{rfonts(FANGSONG)}<w:spacing w:val="{tighten}"/>'
        f'<w:sz w:val="{size}"/><w:szCs w:val="{size}"/></w:rPr>'
        "</w:style>",
        '<w:style w:type="character" w:default="1" w:styleId="DefaultParagraphFont">'
        '<w:name w:val="Default Paragraph Font"/><w:uiPriority w:val="1"/><w:semiHidden/>'
        "<w:unhideWhenUsed/></w:style>",
        '<w:style w:type="table" w:default="1" w:styleId="TableNormal"><w:name w:val="Normal Table"/>'
        '<w:uiPriority w:val="99"/><w:semiHidden/><w:unhideWhenUsed/><w:tblPr>'
        '<w:tblInd w:w="0" w:type="dxa"/><w:tblCellMar><w:top w:w="0" w:type="dxa"/>'
        '<w:left w:w="108" w:type="dxa"/><w:bottom w:w="0" w:type="dxa"/>'
        '<w:right w:w="108" w:type="dxa"/></w:tblCellMar></w:tblPr></w:style>',
        '<w:style w:type="numbering" w:default="1" w:styleId="NoList"><w:name w:val="No List"/>'
        '<w:uiPriority w:val="99"/><w:semiHidden/><w:unhideWhenUsed/></w:style>',
    ]


def styles_document(styles: list[str]) -> str:
    return f"<w:styles {nsdecls('w')}>" + "".join(styles) + "</w:styles>"


def notice_styles() -> dict[str, str]:
    """The GB/T 9704-2012 paragraph and character styles by id, in document order; the
    report takes its body, heading, signature and page-number styles from here."""
    body_ppr = (
        '<w:widowControl w:val="0"/><w:autoSpaceDE w:val="0"/><w:autoSpaceDN w:val="0"/>'
        + spacing()
        + indent(first=2 * CHAR)
        + '<w:jc w:val="both"/>'
    )
    keep = "<w:keepNext/>"
    tabs_signer = f'<w:tabs><w:tab w:val="right" w:pos="{TEXT_W - CHAR}"/></w:tabs>'
    list_tab = 2 * CHAR + 3 * CHAR + CHAR * 3 // 2  # 附件： + a slot for "1." → 2080
    tabs_list = f'<w:tabs><w:tab w:val="left" w:pos="{list_tab}"/></w:tabs>'
    imprint_tab = f'<w:tabs><w:tab w:val="right" w:pos="{TEXT_W - 280}"/></w:tabs>'
    red_rule = f'<w:pBdr><w:bottom w:val="single" w:sz="12" w:space="6" w:color="{RED}"/></w:pBdr>'
    styles = [
        # -- 版头
        paragraph_style(
            "WenshuTopLeft",
            "份号密级紧急程度",
            spacing() + indent() + '<w:jc w:val="left"/>',
            rpr(HEITI),
        ),
        paragraph_style(
            "WenshuMark",
            "发文机关标志",
            keep + spacing(before=MARK_BEFORE, line=1100) + indent() + '<w:jc w:val="center"/>',
            rpr(XIAOBIAOSONG, SIZE_MARK, RED),
            next_style="WenshuWenhao",
        ),
        paragraph_style(
            "WenshuWenhao",
            "发文字号",
            keep + red_rule + spacing(before=WENHAO_BEFORE) + indent() + '<w:jc w:val="center"/>',
            next_style="WenshuTitle",
        ),
        paragraph_style(
            "WenshuWenhaoSigner",
            "发文字号（有签发人）",
            keep
            + red_rule
            + tabs_signer
            + spacing(before=WENHAO_BEFORE)
            + indent(left=CHAR)
            + '<w:jc w:val="left"/>',
            next_style="WenshuTitle",
        ),
        character_style("WenshuSignerName", "签发人姓名", rpr(KAITI)),
        paragraph_style(
            "WenshuTitle",
            "公文标题",
            keep + spacing(before=2 * LINE) + indent() + '<w:jc w:val="center"/>',
            rpr(XIAOBIAOSONG, SIZE_2),
            next_style="WenshuAddressee",
        ),
        paragraph_style(
            "WenshuAddressee",
            "主送机关",
            keep + spacing(before=LINE) + indent() + '<w:jc w:val="both"/>',
            next_style="WenshuBody",
        ),
        # -- 主体
        paragraph_style("WenshuBody", "公文正文", body_ppr, rpr(FANGSONG)),
        character_style("WenshuBodyChar", "公文正文字符", rpr(FANGSONG)),
        paragraph_style(
            "WenshuHeading1", "公文一级标题", keep, rpr(HEITI), "WenshuBody", "WenshuBody", 0
        ),
        paragraph_style(
            "WenshuHeading2", "公文二级标题", keep, rpr(KAITI), "WenshuBody", "WenshuBody", 1
        ),
        paragraph_style(
            "WenshuHeading3", "公文三级标题", "", rpr(FANGSONG), "WenshuBody", "WenshuBody", 2
        ),
        paragraph_style(
            "WenshuHeading4", "公文四级标题", "", rpr(FANGSONG), "WenshuBody", "WenshuBody", 3
        ),
        paragraph_style(
            "WenshuAttachmentList",
            "附件说明",
            tabs_list
            + spacing(before=LINE)
            + indent(left=list_tab, hanging=list_tab - 2 * CHAR)
            + '<w:jc w:val="left"/>',
            next_style="WenshuAttachmentListMore",
        ),
        paragraph_style(
            "WenshuAttachmentListMore",
            "附件说明续行",
            tabs_list
            + spacing()
            + indent(left=list_tab, hanging=list_tab - 5 * CHAR)
            + '<w:jc w:val="left"/>',
        ),
        paragraph_style(
            "WenshuSignature",
            "发文机关署名",
            keep + spacing() + indent(right=4 * CHAR) + '<w:jc w:val="right"/>',
            next_style="WenshuDate",
        ),
        paragraph_style(
            "WenshuDate",
            "成文日期",
            spacing() + indent(right=4 * CHAR) + '<w:jc w:val="right"/>',
            next_style="WenshuNote",
        ),
        paragraph_style("WenshuNote", "附注", spacing() + indent(first=2 * CHAR)),
        paragraph_style(
            "WenshuAttachmentLabel",
            "附件标识",
            keep + "<w:pageBreakBefore/>" + spacing() + indent() + '<w:jc w:val="left"/>',
            rpr(HEITI),
            next_style="WenshuAttachmentTitle",
        ),
        paragraph_style(
            "WenshuAttachmentTitle",
            "附件标题",
            keep + spacing(before=LINE) + indent() + '<w:jc w:val="center"/>',
            rpr(XIAOBIAOSONG, SIZE_2),
            next_style="WenshuBody",
        ),
        # -- 版记
        paragraph_style(
            "WenshuImprint",
            "版记",
            imprint_tab + spacing() + indent(left=280, right=280, chars=False),
            rpr(FANGSONG, SIZE_4),
        ),
        paragraph_style(
            "WenshuPageNumberOdd",
            "页码（单页）",
            spacing(line=400) + indent(right=280, chars=False) + '<w:jc w:val="right"/>',
            rpr(SONGTI, SIZE_4),
        ),
        paragraph_style(
            "WenshuPageNumberEven",
            "页码（双页）",
            spacing(line=400) + indent(left=280, chars=False) + '<w:jc w:val="left"/>',
            rpr(SONGTI, SIZE_4),
        ),
    ]
    return {re.search(r'w:styleId="([^"]+)"', s).group(1): s for s in styles}  # type: ignore[union-attr]


def styles_xml() -> str:
    return styles_document(base_styles() + list(notice_styles().values()))


def fonts_xml() -> str:
    fonts = [
        f'<w:font w:name="{name}"><w:altName w:val="{alt}"/><w:panose1 w:val="{panose}"/>'
        f'<w:charset w:val="86"/><w:family w:val="{family}"/><w:pitch w:val="{pitch}"/></w:font>'
        for name, (alt, panose, family, pitch) in FONT_TABLE.items()
    ]
    return f"<w:fonts {nsdecls('w')}>" + "".join(fonts) + "</w:fonts>"


def run(text: str, char_style: str | None = None) -> str:
    props = f'<w:rPr><w:rStyle w:val="{char_style}"/></w:rPr>' if char_style else ""
    return f'<w:r>{props}<w:t xml:space="preserve">{escape(text)}</w:t></w:r>'


def para(style: str | None, *runs: str) -> str:
    props = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f"<w:p>{props}{''.join(runs)}</w:p>"


def tag(text: str) -> str:
    """A paragraph holding only a docxtpl control tag ({%p …%}, {{p …}}): docxtpl removes it."""
    return para(None, run(text))


def imprint_table() -> str:
    """版记: 抄送 and 印发机关/印发日期 between rules the width of the 版心, at the foot of the
    last page (a floating table anchored to the bottom margin). Outer rules 0.35 mm, inner
    rule 0.25 mm (GB/T 9704-2012 §7.4.1)."""
    cell = f'<w:tc><w:tcPr><w:tcW w:w="{TEXT_W}" w:type="dxa"/></w:tcPr>{{content}}</w:tc>'

    def row(content: str) -> str:
        return "<w:tr><w:trPr><w:cantSplit/></w:trPr>" + cell.format(content=content) + "</w:tr>"

    rows = [
        row(tag("{%tr if cc_line %}")),
        row(para("WenshuImprint", run("{{ cc_line }}"))),
        row(tag("{%tr endif %}")),
        row(
            para(
                "WenshuImprint",
                run("{{ printed_by }}"),
                "<w:r><w:tab/></w:r>",
                run("{{ print_date_text }}"),
            )
        ),
    ]
    thick, thin = 8, 6  # eighths of a point: 1 pt ≈ 0.35 mm, 0.75 pt ≈ 0.26 mm
    # Positioned from the page edge rather than centred on the margins: LibreOffice keeps a
    # margin-relative table as wide as the 版心 in the text flow instead of floating it.
    return (
        "<w:tbl><w:tblPr>"
        '<w:tblpPr w:leftFromText="0" w:rightFromText="0" w:topFromText="0" '
        'w:bottomFromText="0" w:vertAnchor="margin" w:horzAnchor="page" '
        f'w:tblpX="{MARGIN_LEFT}" w:tblpYSpec="bottom"/>'
        '<w:tblOverlap w:val="never"/>'
        f'<w:tblW w:w="{TEXT_W}" w:type="dxa"/>'
        f'<w:tblBorders><w:top w:val="single" w:sz="{thick}" w:space="0" w:color="000000"/>'
        '<w:left w:val="nil"/>'
        f'<w:bottom w:val="single" w:sz="{thick}" w:space="0" w:color="000000"/>'
        '<w:right w:val="nil"/>'
        f'<w:insideH w:val="single" w:sz="{thin}" w:space="0" w:color="000000"/>'
        '<w:insideV w:val="nil"/></w:tblBorders>'
        '<w:tblLayout w:type="fixed"/>'
        '<w:tblCellMar><w:top w:w="0" w:type="dxa"/><w:left w:w="0" w:type="dxa"/>'
        '<w:bottom w:w="0" w:type="dxa"/><w:right w:w="0" w:type="dxa"/></w:tblCellMar>'
        '<w:tblLook w:val="0000" w:firstRow="0" w:lastRow="0" w:firstColumn="0" '
        'w:lastColumn="0" w:noHBand="1" w:noVBand="1"/>'
        f'</w:tblPr><w:tblGrid><w:gridCol w:w="{TEXT_W}"/></w:tblGrid>' + "".join(rows) + "</w:tbl>"
    )


def body_xml() -> str:
    """The notice, top to bottom, as GB/T 9704-2012 orders it."""
    parts = [
        # 版头: 份号, 密级和保密期限 and 紧急程度 top left in that order (GB/T 9704-2012
        # §7.2.1–7.2.3; three fixed lines, empty when not given, so the mark stays 35 mm under
        # the top of the 版心), the red mark, the 发文字号 with the red rule under it (with
        # 签发人 on the right for documents sent upward). The 份号 is 3号 Arabic digits.
        para("WenshuTopLeft", run("{{ copy_no_line }}", "WenshuBodyChar")),
        para("WenshuTopLeft", run("{{ secrecy_line }}")),
        para("WenshuTopLeft", run("{{ urgency_line }}")),
        para("WenshuMark", run("{{ mark }}")),
        tag("{%p if signer %}"),
        para(
            "WenshuWenhaoSigner",
            run("{{ wenhao }}"),
            "<w:r><w:tab/></w:r>",
            run("签发人："),
            run("{{ signer }}", "WenshuSignerName"),
        ),
        tag("{%p else %}"),
        para("WenshuWenhao", run("{{ wenhao }}")),
        tag("{%p endif %}"),
        # 主体
        para("WenshuTitle", run("{{ title }}")),
        para("WenshuAddressee", run("{{ addressee_line }}")),
        tag("{{p body }}"),
        tag("{{p attachment_list }}"),
        tag("{{p signature }}"),
        tag("{%p if note %}"),
        para("WenshuNote", run("{{ note }}")),
        tag("{%p endif %}"),
        tag("{{p attachment_pages }}"),
        # 版记, then the paragraph the floating table is anchored to, 1 pt high so that it
        # takes no room from the last page.
        imprint_table(),
        '<w:p><w:pPr><w:spacing w:before="0" w:after="0" w:line="20" w:lineRule="exact"/>'
        '<w:rPr><w:sz w:val="2"/><w:szCs w:val="2"/></w:rPr></w:pPr></w:p>',
    ]
    return "".join(parts)


def page_number_footer(style: str) -> str:
    """— N — with a real PAGE field."""
    fld = (
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        '<w:r><w:instrText xml:space="preserve"> PAGE </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
        "<w:r><w:t>1</w:t></w:r>"
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
    )
    return para(style, run("— "), fld, run(" —"))


def notice() -> TemplateSpec:
    return TemplateSpec(
        name="notice",
        styles=styles_xml(),
        body=body_xml(),
        footer=page_number_footer("WenshuPageNumberOdd"),
        even_footer=page_number_footer("WenshuPageNumberEven"),
        title="通知（GB/T 9704-2012 红头文件）模板",
        keywords="通知 公文 GB/T 9704-2012",
    )


# ---------------------------------------------------------------- shared pieces of the forms
def field_code(instruction: str, shown: str = "1") -> str:
    """A complex field (PAGE, NUMPAGES) that Word and LibreOffice compute on every page."""
    return (
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        f'<w:r><w:instrText xml:space="preserve"> {instruction} </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
        f"<w:r><w:t>{shown}</w:t></w:r>"
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
    )


TAB = "<w:r><w:tab/></w:r>"
RULED_TAB = '<w:r><w:rPr><w:u w:val="single"/></w:rPr><w:tab/></w:r>'
"""A tab drawn as a rule: the line a person signs on."""
BREAK = "<w:r><w:br/></w:r>"


def para_with(style: str, ppr: str, *runs: str) -> str:
    """A paragraph with direct properties after its style (schema order: pStyle first)."""
    return f'<w:p><w:pPr><w:pStyle w:val="{style}"/>{ppr}</w:pPr>{"".join(runs)}</w:p>'


def cell(width: int, content: str, span: int = 1) -> str:
    grid_span = f'<w:gridSpan w:val="{span}"/>' if span > 1 else ""
    return (
        f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/>{grid_span}'
        f'<w:vAlign w:val="center"/></w:tcPr>{content}</w:tc>'
    )


def table_row(*cells: str, height: int = 0, header: bool = False) -> str:
    """A row that never breaks across pages; a header row repeats on every page."""
    props = "<w:cantSplit/>"
    if height:
        props += f'<w:trHeight w:val="{height}" w:hRule="atLeast"/>'
    if header:
        props += "<w:tblHeader/>"
    return f"<w:tr><w:trPr>{props}</w:trPr>{''.join(cells)}</w:tr>"


def tag_row(text: str, width: int, span: int) -> str:
    """A row holding only a docxtpl {%tr …%} tag: docxtpl replaces the whole row."""
    return table_row(cell(width, tag(text), span))


def grid_table(
    grid: tuple[int, ...], rows: list[str], margin: int, margin_v: int = 0, border: int = 6
) -> str:
    """A fixed-layout table the width of the 版心 with single rules (``border`` in ⅛ pt);
    cell margins ``margin`` left and right, ``margin_v`` top and bottom (twips)."""
    rule = f'w:val="single" w:sz="{border}" w:space="0" w:color="000000"'
    edges = "".join(
        f"<w:{edge} {rule}/>" for edge in ("top", "left", "bottom", "right", "insideH", "insideV")
    )
    return (
        "<w:tbl><w:tblPr>"
        f'<w:tblW w:w="{sum(grid)}" w:type="dxa"/><w:jc w:val="center"/>'
        f"<w:tblBorders>{edges}</w:tblBorders>"
        '<w:tblLayout w:type="fixed"/>'
        f'<w:tblCellMar><w:top w:w="{margin_v}" w:type="dxa"/>'
        f'<w:left w:w="{margin}" w:type="dxa"/>'
        f'<w:bottom w:w="{margin_v}" w:type="dxa"/>'
        f'<w:right w:w="{margin}" w:type="dxa"/></w:tblCellMar>'
        '<w:tblLook w:val="0000" w:firstRow="0" w:lastRow="0" w:firstColumn="0" '
        'w:lastColumn="0" w:noHBand="1" w:noVBand="1"/>'
        "</w:tblPr><w:tblGrid>"
        + "".join(f'<w:gridCol w:w="{w}"/>' for w in grid)
        + "</w:tblGrid>"
        + "".join(rows)
        + "</w:tbl>"
    )


# ---------------------------------------------------------------- forms: 检查记录单, 询问笔录
# Filled in on site and signed by hand on every page: 4号 (14 pt) 仿宋 on exact 25.5 pt lines,
# 25 lines of 31 characters a page, the same 版心 as the notice.
SIZE_FORM = SIZE_4
LINE_FORM = 510
CHAR_FORM = 280
SIZE_PAGE_COUNT = 24  # 小四, the 第 X 页 共 Y 页 in the header
SIZE_CELL = 24  # 小四 in the information table
# The information table: label, value, label, value. Measured in Noto Serif CJK at 12 pt:
# an 18-character 统一社会信用代码 with letters is 137 pt, 0358-8221234 is 77 pt; labels are
# at most six characters on the left (类别（性质）) and five on the right (法定代表人;
# 统一社会信用代码 in two lines). Cells have 4 pt side margins.
FORM_CELL_MARGIN = 80
FORM_GRID = (1720, TEXT_W - 1720 - 1480 - 3020, 1480, 3020)
FORM_ROW = 567  # rows at least 10 mm high: room for a value written in by hand
# A signature line: label, a rule to write on, and 年 月 日 at the right margin with room
# (3½ characters) for the year before 年.
SIGN_DATE = "年　　月　　日"
SIGN_RULE_END = TEXT_W - len(SIGN_DATE) * CHAR_FORM - 7 * CHAR_FORM // 2
# The transcript's footer, the 被询问人签名 line of every page, 17.6 mm above the page's lower
# edge: its rule lies about 1 cm under the 版心, with room to sign above it.
FOOTER_DIST_SIGN = 1000


def form_styles() -> str:
    keep = "<w:keepNext/>"

    def lines(before: int = 0, after: int = 0, line: int = LINE_FORM) -> str:
        return spacing(before, after, line)

    def ind(left: int = 0, first: int = 0, hanging: int = 0) -> str:
        return indent(left=left, first=first, hanging=hanging, unit=CHAR_FORM)

    both, left, center = '<w:jc w:val="both"/>', '<w:jc w:val="left"/>', '<w:jc w:val="center"/>'
    sign_tabs = (
        f'<w:tabs><w:tab w:val="left" w:pos="{SIGN_RULE_END}"/>'
        f'<w:tab w:val="right" w:pos="{TEXT_W}"/></w:tabs>'
    )
    footer_tabs = (
        f'<w:tabs><w:tab w:val="left" w:pos="{TEXT_W - 15 * CHAR_FORM}"/>'
        f'<w:tab w:val="right" w:pos="{TEXT_W}"/></w:tabs>'
    )
    pair_tab = f'<w:tabs><w:tab w:val="left" w:pos="{TEXT_W // 2}"/></w:tabs>'
    styles = base_styles(SIZE_FORM, LINE_FORM, 0) + [
        paragraph_style(
            "WenshuTitle",
            "文书标题",
            keep + lines(after=LINE_FORM, line=720) + ind() + center,
            rpr(XIAOBIAOSONG, SIZE_2),
        ),
        paragraph_style(
            "WenshuField",
            "事项",
            lines() + ind(left=3 * CHAR_FORM, hanging=3 * CHAR_FORM) + both,
        ),
        paragraph_style(
            "WenshuFieldPair",
            "事项（两项一行）",
            pair_tab + lines() + ind(left=4 * CHAR_FORM, hanging=4 * CHAR_FORM) + left,
        ),
        paragraph_style(
            "WenshuSectionLabel",
            "栏目名称",
            keep + lines(before=LINE_FORM // 4) + ind() + left,
            rpr(HEITI),
        ),
        character_style("WenshuLabelChar", "栏目名称字符", rpr(HEITI)),
        paragraph_style("WenshuBody", "正文", lines() + ind(first=2 * CHAR_FORM) + both),
        character_style("WenshuBodyChar", "正文字符", rpr(FANGSONG)),
        paragraph_style(
            "WenshuQuestion", "询问（问）", keep + lines() + ind() + both, next_style="WenshuAnswer"
        ),
        paragraph_style(
            "WenshuAnswer", "询问（答）", lines() + ind() + both, next_style="WenshuQuestion"
        ),
        paragraph_style(
            "WenshuCellLabel",
            "表格栏目",
            lines(line=400) + ind() + '<w:jc w:val="distribute"/>',
            rpr(FANGSONG, SIZE_CELL),
        ),
        paragraph_style(
            "WenshuCellValue", "表格内容", lines(line=400) + ind() + left, rpr(FANGSONG, SIZE_CELL)
        ),
        paragraph_style(
            "WenshuAttest",
            "确认语",
            keep + lines(before=LINE_FORM // 2) + ind(first=2 * CHAR_FORM) + both,
            next_style="WenshuSignLine",
        ),
        paragraph_style(
            "WenshuSignLine",
            "签名栏",
            keep + sign_tabs + lines(before=LINE_FORM) + ind() + left,
        ),
        paragraph_style(
            "WenshuSignLineLast",
            "签名栏（末行）",
            sign_tabs + lines(before=LINE_FORM) + ind() + left,
        ),
        paragraph_style(
            "WenshuPageCount",
            "页数",
            lines(line=360) + ind() + '<w:jc w:val="right"/>',
            rpr(FANGSONG, SIZE_PAGE_COUNT),
        ),
        paragraph_style(
            "WenshuFooterSign",
            "每页签名",
            footer_tabs + lines(line=400) + ind() + left,
        ),
    ]
    return styles_document(styles)


def page_count_header() -> str:
    """第 X 页 共 Y 页 at the top right of every page, with real PAGE and NUMPAGES fields."""
    return para(
        "WenshuPageCount",
        run("第 "),
        field_code("PAGE"),
        run(" 页　共 "),
        field_code("NUMPAGES"),
        run(" 页"),
    )


def label_cell(width: int, *lines: str) -> str:
    """A label spread over the cell (分散对齐); a long one is broken where given."""
    content = BREAK.join(run(line) for line in lines)
    return cell(width, para("WenshuCellLabel", content))


def value_cell(width: int, placeholder: str, span: int = 1) -> str:
    return cell(width, para("WenshuCellValue", run(placeholder)), span)


def info_table(rows: list[tuple[tuple[str, ...], str, tuple[str, ...] | None, str | None]]) -> str:
    """对象信息 / 被询问人: rows of (label, value, label, value); a row with one pair
    spans the value over the remaining three columns."""
    g = FORM_GRID
    out = []
    for label, value, label2, value2 in rows:
        if label2 is None or value2 is None:
            cells = [label_cell(g[0], *label), value_cell(g[1] + g[2] + g[3], value, span=3)]
        else:
            cells = [
                label_cell(g[0], *label),
                value_cell(g[1], value),
                label_cell(g[2], *label2),
                value_cell(g[3], value2),
            ]
        out.append(table_row(*cells, height=FORM_ROW))
    return grid_table(FORM_GRID, out, FORM_CELL_MARGIN)


def sign_line(label: str, *, last: bool = False) -> str:
    """被核查对象签名：________      年  月  日"""
    style = "WenshuSignLineLast" if last else "WenshuSignLine"
    return para(style, run(label), RULED_TAB, TAB, run(SIGN_DATE))


def inspection_record_body() -> str:
    """检查记录单 (seed 002, 附件): where, when, whom, who; the findings; signatures."""
    return "".join(
        [
            para("WenshuTitle", run("{{ title }}")),
            para("WenshuField", run("地点："), run("{{ location }}")),
            para("WenshuField", run("时间："), run("{{ time_span }}")),
            para("WenshuSectionLabel", run("对象信息：")),
            tag("{%p if subject_is_person %}"),
            info_table(
                [
                    (("姓名",), "{{ s_name }}", ("性别",), "{{ s_category }}"),
                    (("工作单位",), "{{ s_legal_rep }}", None, None),
                    (("住址",), "{{ s_address }}", None, None),
                    (("联系电话",), "{{ s_phone }}", ("身份证号",), "{{ s_id_code }}"),
                ]
            ),
            tag("{%p else %}"),
            info_table(
                [
                    (("单位全称",), "{{ s_name }}", None, None),
                    (("类别（性质）",), "{{ s_category }}", ("法定代表人",), "{{ s_legal_rep }}"),
                    (("单位地址",), "{{ s_address }}", None, None),
                    (("电话",), "{{ s_phone }}", ("统一社会", "信用代码"), "{{ s_id_code }}"),
                ]
            ),
            tag("{%p endif %}"),
            para_with(
                "WenshuFieldPair",
                spacing(before=LINE_FORM // 4, line=LINE_FORM),
                run("记录人："),
                run("{{ recorder }}"),
                run("{%r if witness %}"),
                TAB,
                run("见证人："),
                run("{{ witness }}"),
                run("{%r endif %}"),
            ),
            para(
                "WenshuBody",
                run("我们（"),
                run("{{ inspectors }}"),
                run("）是"),
                run("{{ org_name }}"),
                run("医保基金监管和稽核审核服务专家组成员，负责本次稽核审核工作，现对"),
                run("{{ you }}"),
                run("{{ matter }}"),
                run("进行检查。"),
            ),
            para("WenshuSectionLabel", run("线索核查情况：")),
            tag("{{p findings }}"),
            para("WenshuAttest", run("以上记录情况属实。")),
            sign_line("被核查对象签名："),
            sign_line("见证人签名："),
            sign_line("专家组签名："),
            sign_line("记录人签名：", last=True),
        ]
    )


def interview_transcript_body() -> str:
    """询问笔录 (seed 002, 附件): when, where, whom; the 告知 read aloud; 问/答; signatures."""
    return "".join(
        [
            para("WenshuTitle", run("{{ title }}")),
            para("WenshuField", run("时间："), run("{{ time_span }}")),
            para("WenshuField", run("地点："), run("{{ location }}")),
            para("WenshuSectionLabel", run("被询问人：")),
            info_table(
                [
                    (("姓名",), "{{ p_name }}", ("性别",), "{{ p_gender }}"),
                    (("工作岗位",), "{{ p_position }}", None, None),
                    (("联系地址",), "{{ p_address }}", None, None),
                    (("联系电话",), "{{ p_phone }}", ("身份证号",), "{{ p_id_number }}"),
                ]
            ),
            para_with(
                "WenshuFieldPair",
                spacing(before=LINE_FORM // 4, line=LINE_FORM),
                run("承办人："),
                run("{{ interviewers }}"),
            ),
            para("WenshuFieldPair", run("记录人："), run("{{ recorder }}")),
            para(
                "WenshuBody",
                run("告知（宣读）：", "WenshuLabelChar"),
                run("我们是"),
                run("{{ org_name }}"),
                run("医保基金监管和稽核审核服务专家组成员（"),
                run("{{ interviewers }}"),
                run("），负责本次稽核审核工作，现对"),
                run("{{ matter }}"),
                run(
                    "之事进行调查询问。你享有以下权利：专家组人员少于 2 人，有权拒绝调查询问。"
                    "你应该承担以下义务：如实提供有关材料、回答询问，不得拒绝、阻挠调查。"
                    "请你配合我们。"
                ),
            ),
            para("WenshuSectionLabel", run("询问内容：")),
            tag("{{p qa }}"),
            para("WenshuAttest", run("以上记录情况属实。")),
            sign_line("被询问人签名："),
            sign_line("承办人签名：", last=True),
        ]
    )


def interviewee_footer() -> str:
    """The interviewee signs every page: 被询问人签名：________ at the foot."""
    return para("WenshuFooterSign", TAB, run("被询问人签名："), RULED_TAB)


def inspection_record() -> TemplateSpec:
    return TemplateSpec(
        name="inspection_record",
        styles=form_styles(),
        body=inspection_record_body(),
        header=page_count_header(),
        footer="",
        line_pitch=LINE_FORM,
        title="检查记录单模板",
        keywords="检查记录单 医保基金监管",
    )


def interview_transcript() -> TemplateSpec:
    return TemplateSpec(
        name="interview_transcript",
        styles=form_styles(),
        body=interview_transcript_body(),
        header=page_count_header(),
        footer=interviewee_footer(),
        footer_distance=FOOTER_DIST_SIGN,
        line_pitch=LINE_FORM,
        title="询问笔录模板",
        keywords="询问笔录 医保基金监管",
    )


# ---------------------------------------------------------------- 检查报告
# The report reads like a notice's body (3号 仿宋, 22 lines × 28 characters, headings 黑体 and
# 楷体, 署名 and 成文日期 with the seal, — N — page numbers); its table is set in 五号 (10.5 pt).
SIZE_TABLE = 21
LINE_TABLE = 300
REPORT_CELL_MARGIN = 57
# 序号 机构名称 统一社会信用代码 机构类型 违规问题 金额（元） 处理措施 审理级别. Measured at 10.5 pt:
# a code is 120 pt (two lines of nine), 102,300.50 is 53 pt; 单体定点零售药店 sets as 4 + 4.
# 处理措施 holds six characters (63 pt, and 1.3 pt to spare), the longest word of a measure
# (拒付（追回）): render_report.measure_lines breaks the measures between words to that width,
# so 拒付（追回）医保基金 prints as 拒付（追回） / 医保基金. Text is set flush left: justified, a
# narrow cell spreads a line with a number in it.
REPORT_MEASURES_W = 6 * SIZE_TABLE * 10 + 2 * REPORT_CELL_MARGIN + 26  # 1400
REPORT_ISSUE_W = TEXT_W - (540 + 1250 + 1380 + 1000 + 1250 + REPORT_MEASURES_W + 540)  # the rest
REPORT_GRID = (540, 1250, 1380, 1000, REPORT_ISSUE_W, 1250, REPORT_MEASURES_W, 540)


def report_styles() -> str:
    keep = "<w:keepNext/>"
    notice = notice_styles()
    table_rpr = (
        f'<w:rPr>{rfonts(FANGSONG)}<w:spacing w:val="0"/>'
        f'<w:sz w:val="{SIZE_TABLE}"/><w:szCs w:val="{SIZE_TABLE}"/></w:rPr>'
    )
    head_rpr = table_rpr.replace(rfonts(FANGSONG), rfonts(HEITI))

    def cell_style(style_id: str, name: str, jc: str, run_props: str = table_rpr) -> str:
        ppr = spacing(line=LINE_TABLE) + indent() + f'<w:jc w:val="{jc}"/>'
        return paragraph_style(style_id, name, ppr, run_props)

    styles = base_styles() + [
        paragraph_style(
            "WenshuTitle",
            "公文标题",
            keep + spacing(after=LINE) + indent() + '<w:jc w:val="center"/>',
            rpr(XIAOBIAOSONG, SIZE_2),
            next_style="WenshuBody",
        ),
        *(
            notice[style_id]
            for style_id in (
                "WenshuBody",
                "WenshuBodyChar",
                "WenshuHeading1",
                "WenshuHeading2",
                "WenshuHeading3",
                "WenshuHeading4",
                "WenshuSignature",
                "WenshuDate",
                "WenshuPageNumberOdd",
                "WenshuPageNumberEven",
            )
        ),
        cell_style("WenshuTableHead", "表头", "center", head_rpr),
        cell_style("WenshuTableCell", "表格文字", "left"),
        cell_style("WenshuTableCenter", "表格文字（居中）", "center"),
        cell_style("WenshuTableAmount", "表格金额", "right"),
    ]
    return styles_document(styles)


def report_table() -> str:
    """四、专项检查结果和处理情况: one row per violation, the header repeated on every page,
    the 合计 row last."""
    g = REPORT_GRID

    def head(width: int, *lines: str) -> str:
        return cell(width, para("WenshuTableHead", BREAK.join(run(t) for t in lines)))

    def body(width: int, style: str, placeholder: str) -> str:
        return cell(width, para(style, run(placeholder)))

    header = table_row(
        head(g[0], "序号"),
        head(g[1], "机构名称"),
        head(g[2], "统一社会", "信用代码"),
        head(g[3], "机构类型"),
        head(g[4], "违规问题"),
        head(g[5], "金额（元）"),
        head(g[6], "处理措施"),
        head(g[7], "审理", "级别"),
        height=567,
        header=True,
    )
    row = table_row(
        body(g[0], "WenshuTableCenter", "{{ v.no }}"),
        body(g[1], "WenshuTableCell", "{{ v.institution }}"),
        body(g[2], "WenshuTableCenter", "{{ v.id_code }}"),
        body(g[3], "WenshuTableCenter", "{{ v.institution_type }}"),
        body(g[4], "WenshuTableCell", "{{ v.issue }}"),
        body(g[5], "WenshuTableAmount", "{{ v.amount }}"),
        body(g[6], "WenshuTableCell", "{{ v.measures }}"),
        body(g[7], "WenshuTableCenter", "{{ v.level }}"),
        height=454,
    )
    total = table_row(
        cell(sum(g[:5]), para("WenshuTableHead", run("合计")), span=5),
        body(g[5], "WenshuTableAmount", "{{ total_amount }}"),
        cell(g[6] + g[7], para("WenshuTableCenter"), span=2),
        height=454,
    )
    rows = [
        header,
        tag_row("{%tr for v in violations %}", TEXT_W, 8),
        row,
        tag_row("{%tr endfor %}", TEXT_W, 8),
        total,
    ]
    return grid_table(REPORT_GRID, rows, REPORT_CELL_MARGIN, margin_v=REPORT_CELL_MARGIN // 2)


def inspection_report_body() -> str:
    """检查报告 (seed 002, 附件3 模板): opening, five sections, table, 署名 and 成文日期."""

    def heading(level: int, text: str) -> str:
        return para(f"WenshuHeading{level}", run(text))

    return "".join(
        [
            para("WenshuTitle", run("{{ title }}")),
            para(
                "WenshuBody",
                run("根据"),
                run("{{ org_name }}"),
                run("关于开展"),
                run("{{ inspection_type }}"),
                run("的工作安排，我们检查组一行"),
                run("{{ team_size }}"),
                run("人于"),
                run("{{ period }}"),
                run("在"),
                run("{{ region }}"),
                run("开展了现场检查。现将工作情况报告如下："),
            ),
            heading(1, "一、基本情况"),
            tag("{{p basic_situation }}"),
            heading(1, "二、主要做法"),
            tag("{{p main_practices }}"),
            heading(1, "三、发现的问题"),
            heading(2, "（一）共性问题"),
            tag("{{p common_problems }}"),
            heading(2, "（二）典型问题"),
            tag("{{p typical_problems }}"),
            heading(1, "四、专项检查结果和处理情况"),
            tag("{%p if violations %}"),
            report_table(),
            para(
                "WenshuBody",
                run("本次检查共查处"),
                run("{{ institutions }}"),
                run("家，其中重大"),
                run("{{ major }}"),
                run("件、一般"),
                run("{{ general }}"),
                run("件，涉及金额"),
                run("{{ total_amount }}"),
                run("元。"),
            ),
            tag("{%p else %}"),
            para("WenshuBody", run("无。")),
            tag("{%p endif %}"),
            heading(1, "五、意见和建议"),
            tag("{{p suggestions }}"),
            tag("{{p signature }}"),
        ]
    )


def inspection_report() -> TemplateSpec:
    return TemplateSpec(
        name="inspection_report",
        styles=report_styles(),
        body=inspection_report_body(),
        footer=page_number_footer("WenshuPageNumberOdd"),
        even_footer=page_number_footer("WenshuPageNumberEven"),
        title="检查报告模板",
        keywords="检查报告 医保基金监管",
    )


# ---------------------------------------------------------------- assembly
@dataclass(frozen=True)
class TemplateSpec:
    """One template: its styles, its body, what repeats on every page, its properties."""

    name: str
    styles: str
    body: str
    footer: str
    """Default (odd-page) footer paragraphs; "" for none."""
    even_footer: str | None = None
    """Even-page footer; given, odd and even pages get different footers."""
    header: str = ""
    footer_distance: int = FOOTER_DIST
    line_pitch: int = LINE
    title: str = ""
    keywords: str = ""


def build(spec: TemplateSpec) -> bytes:
    doc = Document()
    package = doc.part.package

    # Drop what python-docx's stock template carries and a template should not:
    # its thumbnail, custom XML and the Word 2010 styles copy.
    for rel_id, rel in list(package.rels.items()):
        if rel.reltype == RT.THUMBNAIL:
            package.rels.pop(rel_id)
    for rel_id, rel in list(doc.part.rels.items()):
        if rel.reltype in (RT.CUSTOM_XML, STYLES_WITH_EFFECTS):
            doc.part.rels.pop(rel_id)

    # Styles and font table, replaced wholesale.
    styles_el = doc.styles.element
    for child in list(styles_el):
        styles_el.remove(child)
    for child in parse_xml(spec.styles):
        styles_el.append(child)
    font_part = next(r.target_part for r in doc.part.rels.values() if r.reltype == RT.FONT_TABLE)
    replace_part_bytes(font_part, fonts_xml().encode("utf-8"))

    # Page setup.
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Twips(MARGIN_TOP), Twips(MARGIN_BOTTOM)
    section.left_margin, section.right_margin = Twips(MARGIN_LEFT), Twips(MARGIN_RIGHT)
    section.header_distance = Twips(HEADER_DIST)
    section.footer_distance = Twips(spec.footer_distance)
    section.gutter = Twips(0)
    stories: list[tuple[Any, str]] = []  # (header or footer, its paragraphs)
    if spec.even_footer is not None:
        doc.settings.odd_and_even_pages_header_footer = True
        stories += [(section.footer, spec.footer), (section.even_page_footer, spec.even_footer)]
    elif spec.footer:
        stories.append((section.footer, spec.footer))
    if spec.header:
        stories.append((section.header, spec.header))
    for story, content in stories:
        story.is_linked_to_previous = False
        el = story_xml(story)
        for child in list(el):
            el.remove(child)
        for child in parse_xml(f"<w:root {nsdecls('w')}>{content}</w:root>"):
            el.append(child)
    sect_pr = section_xml(section)
    grid = sect_pr.find(qn("w:docGrid"))
    if grid is None:
        grid = parse_xml(f"<w:docGrid {nsdecls('w')}/>")
        sect_pr.append(grid)
    grid.attrib.clear()
    grid.set(qn("w:linePitch"), str(spec.line_pitch))

    # Body.
    body = doc.element.body
    for child in list(body):
        if child.tag != qn("w:sectPr"):
            body.remove(child)
    for child in parse_xml(f"<w:root {nsdecls('w')}>{spec.body}</w:root>"):
        sect_pr.addprevious(child)

    _settings(doc)
    _core_properties(doc, spec)
    buf = io.BytesIO()
    doc.save(buf)
    return normalise_zip(buf.getvalue())


def _settings(doc: DocxDocument) -> None:
    settings = doc.settings.element
    for name in ("w:rsids", "w:proofState", "w:attachedTemplate"):
        for el in settings.findall(qn(name)):
            settings.remove(el)
    tab = settings.find(qn("w:defaultTabStop"))
    if tab is not None:
        tab.set(qn("w:val"), str(2 * CHAR))
    control = settings.find(qn("w:characterSpacingControl"))
    if control is not None:
        control.set(qn("w:val"), "compressPunctuation")
    lang = settings.find(qn("w:themeFontLang"))
    if lang is not None:
        lang.set(qn("w:eastAsia"), "zh-CN")
    for compat in settings.iter(qn("w:compatSetting")):
        if compat.get(qn("w:name")) == "compatibilityMode":
            compat.set(qn("w:val"), "15")


def _core_properties(doc: DocxDocument, spec: TemplateSpec) -> None:
    props = doc.core_properties
    props.title = spec.title
    props.subject = "Wenshu 文书模板"
    props.author = "Wenshu"
    props.last_modified_by = "scripts/build_templates.py"
    props.comments = "由 scripts/build_templates.py 生成；样式可在 Word/WPS 中修改。"
    props.keywords = spec.keywords
    props.language = "zh-CN"
    props.revision = 1
    props.created = props.modified = FIXED_TIME.replace(tzinfo=None)


def normalise_zip(data: bytes) -> bytes:
    """Rewrite a DOCX with fixed timestamps so equal content gives equal bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zout.writestr(info, zin.read(item.filename))
    return out.getvalue()


TEMPLATES: dict[str, Callable[[], TemplateSpec]] = {
    "notice": notice,
    "inspection_record": inspection_record,
    "interview_transcript": interview_transcript,
    "inspection_report": inspection_report,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="say which committed files differ from this output"
    )
    parser.add_argument(
        "--force", action="store_true", help="overwrite a committed template (edits are lost)"
    )
    parser.add_argument("names", nargs="*", help=f"default: all of {', '.join(TEMPLATES)}")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(TEMPLATES)
    if unknown:
        parser.error(f"unknown template: {', '.join(sorted(unknown))}")
    stale = 0
    for name in args.names or TEMPLATES:
        data = build(TEMPLATES[name]())
        out = TEMPLATES_DIR / f"{name}.docx"
        if args.check:
            if not out.exists() or out.read_bytes() != data:
                print(
                    f"{out.relative_to(ROOT)} differs from this bootstrap's output", file=sys.stderr
                )
                stale = 1
            continue
        if out.exists() and not args.force:
            print(
                f"{out.relative_to(ROOT)} exists and is the source (edited in Word/WPS): "
                "not overwritten (--force to replace it)",
                file=sys.stderr,
            )
            stale = 1
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        print(f"wrote {out.relative_to(ROOT)} ({len(data)} bytes)")
    return stale


if __name__ == "__main__":
    sys.exit(main())

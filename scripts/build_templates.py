#!/usr/bin/env python3
"""Build doc_templates/notice.docx: the GB/T 9704-2012 red-header 通知 template.

The template is generated, not hand-edited, so every measurement below is written down
once and reviewable, and a rebuild gives byte-identical output. It stays an ordinary
Word/WPS document: fonts, sizes and spacing live in named paragraph styles (公文正文,
公文一级标题, 发文机关标志 …) that a person can change in Word, and the placeholders are
docxtpl tags in plain runs. Data-dependent parts (正文, 附件, 署名 with the seal) arrive as
subdocuments that use these styles; service/render.py builds them.

    .venv/bin/python scripts/build_templates.py          # writes doc_templates/notice.docx
    .venv/bin/python scripts/build_templates.py --check  # exit 1 if the file is stale
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import sys
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from docx import Document
from docx.document import Document as DocxDocument
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Mm, Twips

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "doc_templates" / "notice.docx"

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
# the two lines kept for 密级/紧急程度), the 发文字号 two blank lines under the mark, the red
# rule 4 mm under the 发文字号 (border space 6 pt).
MARK_BEFORE = 667
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
    left: int = 0, right: int = 0, first: int = 0, hanging: int = 0, chars: bool = True
) -> str:
    """An indent in twips, also expressed in characters (Word shows "2 字符")."""
    attrs = [f'w:left="{left}"', f'w:right="{right}"']
    if chars:
        attrs += [f'w:leftChars="{left * 100 // CHAR}"', f'w:rightChars="{right * 100 // CHAR}"']
    if hanging:
        attrs.append(f'w:hanging="{hanging}"')
        if chars:
            attrs.append(f'w:hangingChars="{hanging * 100 // CHAR}"')
    else:
        attrs.append(f'w:firstLine="{first}"')
        if chars:
            attrs.append(f'w:firstLineChars="{first * 100 // CHAR}"')
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


def styles_xml() -> str:
    base_rpr = (
        f'{rfonts(FANGSONG)}<w:kern w:val="2"/><w:sz w:val="{SIZE_3}"/><w:szCs w:val="{SIZE_3}"/>'
        '<w:lang w:val="en-US" w:eastAsia="zh-CN" w:bidi="ar-SA"/>'
    )
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
        f"<w:docDefaults><w:rPrDefault><w:rPr>{base_rpr}</w:rPr></w:rPrDefault>"
        f"<w:pPrDefault><w:pPr>{spacing()}</w:pPr></w:pPrDefault></w:docDefaults>",
        '<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/>'
        '<w:qFormat/><w:pPr><w:widowControl w:val="0"/><w:autoSpaceDE w:val="0"/>'
        f'<w:autoSpaceDN w:val="0"/>{spacing()}<w:jc w:val="both"/></w:pPr>'
        f'<w:rPr>{rfonts(FANGSONG)}<w:spacing w:val="{CHAR_TIGHTEN}"/>'
        f'<w:sz w:val="{SIZE_3}"/><w:szCs w:val="{SIZE_3}"/></w:rPr>'
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
    return f"<w:styles {nsdecls('w')}>" + "".join(styles) + "</w:styles>"


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
        # 版头: 密级和保密期限 and 紧急程度 top left (two fixed lines, empty when not given,
        # so the mark stays 35 mm under the top of the 版心), the red mark, the 发文字号 with
        # the red rule under it (with 签发人 on the right for documents sent upward).
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


# ---------------------------------------------------------------- assembly
def build() -> bytes:
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
    for child in parse_xml(styles_xml()):
        styles_el.append(child)
    font_part = next(r.target_part for r in doc.part.rels.values() if r.reltype == RT.FONT_TABLE)
    font_part._blob = fonts_xml().encode("utf-8")

    # Page setup.
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Twips(MARGIN_TOP), Twips(MARGIN_BOTTOM)
    section.left_margin, section.right_margin = Twips(MARGIN_LEFT), Twips(MARGIN_RIGHT)
    section.header_distance, section.footer_distance = Twips(HEADER_DIST), Twips(FOOTER_DIST)
    section.gutter = Twips(0)
    doc.settings.odd_and_even_pages_header_footer = True
    for footer, style in (
        (section.footer, "WenshuPageNumberOdd"),
        (section.even_page_footer, "WenshuPageNumberEven"),
    ):
        footer.is_linked_to_previous = False
        el = footer._element
        for child in list(el):
            el.remove(child)
        el.append(parse_xml(f"<w:root {nsdecls('w')}>{page_number_footer(style)}</w:root>")[0])
    sect_pr = section._sectPr
    grid = sect_pr.find(qn("w:docGrid"))
    if grid is None:
        grid = parse_xml(f"<w:docGrid {nsdecls('w')}/>")
        sect_pr.append(grid)
    grid.attrib.clear()
    grid.set(qn("w:linePitch"), str(LINE))

    # Body.
    body = doc.element.body
    for child in list(body):
        if child.tag != qn("w:sectPr"):
            body.remove(child)
    for child in parse_xml(f"<w:root {nsdecls('w')}>{body_xml()}</w:root>"):
        sect_pr.addprevious(child)

    _settings(doc)
    _core_properties(doc)
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


def _core_properties(doc: DocxDocument) -> None:
    props = doc.core_properties
    props.title = "通知（GB/T 9704-2012 红头文件）模板"
    props.subject = "Wenshu 文书模板"
    props.author = "Wenshu"
    props.last_modified_by = "scripts/build_templates.py"
    props.comments = "由 scripts/build_templates.py 生成；样式可在 Word/WPS 中修改。"
    props.keywords = "通知 公文 GB/T 9704-2012"
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the template is stale")
    args = parser.parse_args(argv)
    data = build()
    if args.check:
        if not OUT.exists() or OUT.read_bytes() != data:
            print(
                f"{OUT.relative_to(ROOT)} is stale: run scripts/build_templates.py", file=sys.stderr
            )
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(data)
    print(f"wrote {OUT.relative_to(ROOT)} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

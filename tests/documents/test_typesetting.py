"""What a bureau's document checker measures on the issued PDF: the faces (仿宋 body, 黑体 and
楷体 headings, a bold 宋 mark and title), no space between digits and Chinese, the seal centred
on the 成文日期. Every sample type is converted by the real LibreOffice pool."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from schemas.inspection_record import InspectionRecordSchema
from schemas.inspection_report import InspectionReportSchema
from schemas.interview_transcript import InterviewTranscriptSchema
from schemas.notice import NoticeSchema
from service.doctypes import render_docx, sample_input
from service.documents.convert.client import Converter
from service.documents.convert.instance import PoolSettings
from service.documents.render import Letterhead
from service.documents.seal import make_seal_png
from tests.support.glyphs import MM, Glyph, Page, digit_chinese_boundaries, pages

ORG = Letterhead(name="吕梁市医疗保障局", mark="吕梁市医疗保障局文件", zihao="吕医保发")
SCHEMAS: dict[str, Any] = {
    "notice": NoticeSchema,
    "inspection_record": InspectionRecordSchema,
    "interview_transcript": InterviewTranscriptSchema,
    "inspection_report": InspectionReportSchema,
}

pytestmark = pytest.mark.soffice


@pytest.fixture(scope="module")
def converter(converter_dir: dict[str, Any]) -> Converter:
    return Converter(
        PoolSettings(
            run_dir=converter_dir["CONVERTER_DIR"],
            size=2,
        )
    )


def issue(converter: Converter, doctype: str, data: dict[str, Any] | None = None) -> bytes:
    docx = render_docx(
        doctype,
        SCHEMAS[doctype]().load(data or sample_input(doctype)),
        org=ORG,
        wenhao="吕医保发〔2021〕44号",
        issue_date=dt.date(2021, 4, 23),
        seal_png=make_seal_png(ORG.name),
    )
    return converter.to_pdf(docx)


@pytest.fixture(scope="module")
def samples(converter: Converter) -> dict[str, bytes]:
    return {doctype: issue(converter, doctype) for doctype in SCHEMAS}


def fonts_of(page: Page, text: str) -> set[str]:
    found = page.find(text)
    assert found, f"{text} not on page {page.number}"
    return {g.font for g in found[0]}


def test_each_part_of_a_notice_is_set_in_its_face(samples: dict[str, bytes]) -> None:
    first, *rest = pages(samples["notice"])
    assert fonts_of(first, "吕梁市医疗保障局文件") == {"FandolSong-Bold"}  # red mark: 小标宋
    assert fonts_of(first, "吕梁市医疗保障局关于印发") == {"FandolSong-Bold"}  # title
    assert fonts_of(first, "吕医保发〔2021〕44号") == {"FandolFang-Regular"}
    assert fonts_of(first, "各县（市、区）医疗保障局") == {"FandolFang-Regular"}  # 主送
    assert fonts_of(first, "为了加强医疗保障基金监管工作") == {"FandolFang-Regular"}
    attachment = next(p for p in rest if p.find("工作目标"))
    assert fonts_of(attachment, "一、工作目标") == {"FandolHei-Regular"}  # level 1: 黑体
    stage = next(p for p in rest if p.find("准备阶段"))
    assert fonts_of(stage, "准备阶段") == {"FandolKai-Regular"}  # level 2: 楷体
    last = pages(samples["notice"])[-1]
    assert fonts_of(last, "印发") == {"FandolFang-Regular"}  # 版记


@pytest.mark.parametrize("doctype", list(SCHEMAS))
def test_fonts_are_embedded_under_their_own_names(samples: dict[str, bytes], doctype: str) -> None:
    used = {g.font for page in pages(samples[doctype]) for g in page.glyphs}
    assert used and all(f.startswith("Fandol") for f in used), used


def test_a_name_character_outside_gb2312_is_printed_from_noto(converter: Converter) -> None:
    data = sample_input("notice")
    data["addressees"] = ["张㑇同志", "吉𠮷同志"]
    first = pages(issue(converter, "notice", data))[0]
    for ch in ("㑇", "𠮷"):
        (glyph,) = [g for g in first.glyphs if g.text == ch]
        assert glyph.font.startswith("NotoSerifCJK"), glyph  # not FandolFang's empty box
        assert glyph.x1 - glyph.x0 > 0.9 * glyph.size  # a full-width glyph, not a blank
    assert fonts_of(first, "张") == {"FandolFang-Regular"}


@pytest.mark.parametrize("doctype", list(SCHEMAS))
def test_no_space_between_digits_and_chinese(samples: dict[str, bytes], doctype: str) -> None:
    """〔2021〕44号 and 2021年4月23日 are set solid: LibreOffice's default would put 0.2 em at
    each boundary. On a line set solid a boundary is under 0.05 em. A justified line that had
    to be stretched (a long figure such as 102,300.50元 moved to the next line) spreads the
    stretch over every character, digits and Chinese alike, so there a boundary may have what
    the line gives its Chinese pairs and at most 0.03 em more: LibreOffice adds each
    character's share in whole twips and leaves the remainder where the Chinese run meets
    the digits. Ragged right instead would be the visible fault; 0.03 em at 16 pt is
    0.17 mm. The forms' filled-in text is set flush left, so their boundaries are solid."""
    pdf = samples[doctype]
    boundaries = digit_chinese_boundaries(pdf)
    assert len(boundaries) > 20
    for b in boundaries:
        stretched = b.line_em >= 0.01
        assert b.gap_em < (b.line_em + 0.03 if stretched else 0.05), b
    solid = [b for b in boundaries if b.gap_em < 0.05]
    assert len(solid) > 0.8 * len(boundaries)


def _date_and_name(page: Page, name: str) -> tuple[list[Glyph], list[Glyph]]:
    dates = [g for g in page.find("2021年4月23日")]
    names = page.find(name)
    return dates[-1], names[-1]


@pytest.mark.parametrize("doctype", ["notice", "inspection_report"])
def test_seal_and_signature_are_centred_on_the_date(
    samples: dict[str, bytes], doctype: str
) -> None:
    sealed = [p for p in pages(samples[doctype]) if p.images]
    assert len(sealed) == 1
    page = sealed[0]
    date, name = _date_and_name(page, ORG.name)
    date_centre = (date[0].x0 + date[-1].x1) / 2
    name_centre = (name[0].x0 + name[-1].x1) / 2
    x0, y0, x1, y1 = page.images[0]
    seal_centre = (x0 + x1) / 2
    assert abs(seal_centre - date_centre) < 1 * MM
    assert abs(name_centre - date_centre) < 1 * MM
    assert y0 < date[0].y0 < y1 and y0 < name[0].y0 < y1  # the seal covers both lines

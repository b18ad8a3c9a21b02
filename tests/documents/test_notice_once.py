"""A notice converted once: ``Converter.to_pdf_even`` (the endpoint's ``convert_even``) lays the
notice out and, when it is odd, moves the 版记 to a new page before exporting. The result must
be what rendering again with a blank page and converting again gives (``typeset`` with a plain
``convert``), and the DOCX kept must print, converted on its own, what the PDF shows."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any

import pypdf
import pytest
from docx import Document

from schemas.notice import NoticeSchema
from service.doctypes import DOCTYPES
from service.documents.convert.client import Converter, EvenPdf
from service.documents.convert.instance import PoolSettings
from service.documents.render import Letterhead
from service.documents.render_notice import BLANK_PAGES
from service.documents.seal import make_seal_png
from tests.support.glyphs import pages

ORG = Letterhead(name="吕梁市医疗保障局", mark="吕梁市医疗保障局文件", zihao="吕医保发")
PARAGRAPH = (
    "为了加强医疗保障基金监管工作，进一步引深打击欺诈骗保专项治理行动，切实保障参保群众"
    "合法权益，维护基金安全可持续运行，根据安排部署。"
)
IMPRINT = "2021年4月23日印发"

pytestmark = pytest.mark.soffice


@pytest.fixture(scope="module")
def converter(converter_dir: dict[str, Any]) -> Converter:
    return Converter(PoolSettings(run_dir=converter_dir["CONVERTER_DIR"], size=2))


def notice(paragraphs: int, **fields: Any) -> dict[str, Any]:
    data = {
        "title": "关于开展专项检查的通知",
        "addressees": ["各县（市、区）医疗保障局"],
        "body": [{"text": PARAGRAPH}] * paragraphs,
        "cc": ["山西省医疗保障局", "吕梁市人民政府办公室"],
        "date": "2021-04-23",
        **fields,
    }
    return NoticeSchema().load(data)  # type: ignore[no-any-return]


class Counting:
    """A ``convert`` for ``typeset`` that counts what reaches LibreOffice."""

    def __init__(self, converter: Converter, *, even: bool) -> None:
        self.converter = converter
        self.loads = self.exports = 0
        if even:
            self.to_pdf_even = self._even

    def __call__(self, docx: bytes) -> bytes:
        self.loads += 1
        self.exports += 1
        return self.converter.to_pdf(docx)

    def _even(self, docx: bytes) -> EvenPdf:
        self.loads += 1
        self.exports += 1
        return self.converter.to_pdf_even(docx)


def typeset(convert: Callable[[bytes], bytes], data: dict[str, Any]) -> tuple[bytes, bytes]:
    docx, pdf, _ = DOCTYPES["notice"].typeset(
        data,
        convert,
        org=ORG,
        wenhao="吕医保发〔2021〕44号",
        issue_date=dt.date(2021, 4, 23),
        seal_png=make_seal_png(ORG.name),
    )
    return docx, pdf


def render(data: dict[str, Any]) -> bytes:
    return DOCTYPES["notice"].render(
        data,
        org=ORG,
        wenhao="吕医保发〔2021〕44号",
        issue_date=dt.date(2021, 4, 23),
        seal_png=make_seal_png(ORG.name),
    )


def layout(pdf: bytes) -> tuple[int, list[str]]:
    """The page count and each page's text (what a reader sees)."""
    texts = [p.text.replace(" ", "") for p in pages(pdf)]
    return len(texts), texts


def glyphs(pdf: bytes) -> list[list[tuple[str, float, float, float]]]:
    """Every glyph of every page where it is printed (to 0.1 pt), the images' boxes too."""
    return [
        [(g.text, round(g.x0, 1), round(g.y0, 1), g.size) for g in p.glyphs]
        + [("image", *(round(v, 1) for v in box[:3])) for box in p.images]
        for p in pages(pdf)
    ]


def imprint_page(pdf: bytes) -> list[int]:
    return [i for i, t in enumerate(layout(pdf)[1], start=1) if IMPRINT in t]


@pytest.mark.parametrize(
    ("paragraphs", "blank"),
    [(1, 1), (13, 1), (18, 0), (9, 2)],
    ids=["one page", "three pages", "even already", "imprint alone"],
)
def test_once_gives_what_converting_again_gives(
    converter: Converter, paragraphs: int, blank: int
) -> None:
    """Text of one page (the common case) and of three: one conversion where there were two;
    text already even: one; a 版记 alone on an odd page (two blank pages needed): two where
    there were three. The DOCX, the pages and every page's text are those of the old way."""
    data = notice(paragraphs)
    twice, once = Counting(converter, even=False), Counting(converter, even=True)
    docx_before, pdf_before = typeset(twice, data)
    docx_after, pdf_after = typeset(once, data)
    assert docx_after == docx_before  # the same variant chosen, byte for byte
    expected = render({**data, BLANK_PAGES: blank}) if blank else None
    if expected is not None:
        assert docx_after == expected, "not the variant with the blank pages expected"
    assert layout(pdf_after) == layout(pdf_before)
    assert glyphs(pdf_after) == glyphs(pdf_before)
    count, _ = layout(pdf_after)
    assert count % 2 == 0 and imprint_page(pdf_after) == [count]
    assert twice.exports == blank + 1
    assert once.loads == once.exports == (2 if blank == 2 else 1)
    # The DOCX archived, converted again on its own, prints the same pages.
    again = converter.to_pdf(docx_after)
    assert layout(again) == layout(pdf_after)
    assert glyphs(again) == glyphs(pdf_after)
    assert imprint_page(again) == [count]


def test_the_page_count_reported_is_the_pdfs(converter: Converter) -> None:
    for paragraphs, added in ((1, 1), (18, 0), (9, 1)):
        made = converter.to_pdf_even(render(notice(paragraphs)))
        assert made.added == added, paragraphs
        assert made.pages == len(pypdf.PdfReader(io.BytesIO(made.pdf)).pages), paragraphs
        assert made.pages % 2 == (paragraphs == 9)  # the 版记 alone: still odd, as rendered


def test_a_document_of_another_shape_is_left_as_it_is(converter: Converter) -> None:
    """No table floating from the last paragraph (an org's template laid out otherwise): no
    page is added, and ``typeset`` renders again with the blank page, as before."""
    document = Document()
    document.add_paragraph("关于开展专项检查的通知")
    document.add_table(rows=1, cols=1).cell(0, 0).text = "抄送：山西省医疗保障局。"
    document.add_paragraph("")
    buffer = io.BytesIO()
    document.save(buffer)
    made = converter.to_pdf_even(buffer.getvalue())
    assert (made.added, made.pages) == (0, 1)


def test_once_makes_a_pdfa(converter: Converter) -> None:
    made = converter.to_pdf_even(render(notice(1)), pdfa=True)
    assert b'pdfaid:part="2"' in made.pdf or b"<pdfaid:part>2</pdfaid:part>" in made.pdf
    plain = converter.to_pdf_even(render(notice(1)), pdfa=False)
    assert b"pdfaid:part" not in plain.pdf


@pytest.mark.parametrize("shape", ["sample", "one attachment", "note and contact"])
def test_notices_with_attachments_print_as_before(converter: Converter, shape: str) -> None:
    """Attachment pages, a 附注 and a contact before the 版记: the same DOCX, the same pages,
    glyph for glyph, and the DOCX kept converts to them again."""
    if shape == "sample":
        data = NoticeSchema().load(DOCTYPES["notice"].sample_input())
    elif shape == "one attachment":
        attachment = {"title": "专项治理工作方案", "body": [{"text": PARAGRAPH}]}
        data = notice(2, attachments=[attachment])
    else:
        data = notice(3, note="此件公开发布", contact={"name": "王明", "phone": "0358-8221234"})
    twice, once = Counting(converter, even=False), Counting(converter, even=True)
    docx_before, pdf_before = typeset(twice, data)
    docx_after, pdf_after = typeset(once, data)
    assert docx_after == docx_before
    assert glyphs(pdf_after) == glyphs(pdf_before)
    count = layout(pdf_after)[0]
    assert count % 2 == 0 and imprint_page(pdf_after) == [count]
    assert once.exports <= twice.exports and once.exports == (2 if twice.exports == 3 else 1)
    assert glyphs(converter.to_pdf(docx_after)) == glyphs(pdf_after)

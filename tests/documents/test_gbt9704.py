"""GB/T 9704-2012 rules a bureau's document checker looks for on the issued PDF, measured on
the pages LibreOffice makes: the 版记 on the last page, an even one (§7.4–7.5)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from schemas.notice import NoticeSchema
from service.doctypes import DOCTYPES
from service.documents.convert.client import Converter
from service.documents.convert.instance import PoolSettings
from service.documents.render import Letterhead
from service.documents.seal import make_seal_png
from tests.support.glyphs import pages

ORG = Letterhead(name="吕梁市医疗保障局", mark="吕梁市医疗保障局文件", zihao="吕医保发")
PARAGRAPH = (
    "为了加强医疗保障基金监管工作，进一步引深打击欺诈骗保专项治理行动，切实保障参保群众"
    "合法权益，维护基金安全可持续运行，根据安排部署。"
)

pytestmark = pytest.mark.soffice


@pytest.fixture(scope="module")
def converter(converter_dir: dict[str, Any]) -> Converter:
    return Converter(PoolSettings(run_dir=converter_dir["CONVERTER_DIR"], size=2))


def notice(**fields: Any) -> dict[str, Any]:
    data = {
        "title": "关于开展专项检查的通知",
        "addressees": ["各县（市、区）医疗保障局"],
        "body": [{"text": PARAGRAPH}],
        "cc": ["山西省医疗保障局", "吕梁市人民政府办公室"],
        "date": "2021-04-23",
        **fields,
    }
    return NoticeSchema().load(data)  # type: ignore[no-any-return]


def typeset(converter: Converter, data: dict[str, Any]) -> bytes:
    _, pdf = DOCTYPES["notice"].typeset(
        data,
        converter.to_pdf,
        org=ORG,
        wenhao="吕医保发〔2021〕44号",
        issue_date=dt.date(2021, 4, 23),
        seal_png=make_seal_png(ORG.name),
    )
    return pdf


def test_imprint_ends_on_the_last_page_an_even_one(converter: Converter) -> None:
    """Bodies of 1 to 9 pages: the 版记 is on the last page, and that page is even; when the
    text ends on an odd page the 版记 takes the next page, when the 版记 alone would fall on
    an odd page a blank page comes before it."""
    text_pages, blanks = set(), 0
    for paragraphs in (1, 5, 9, 13, 18, 24, 31, 38, 45, 52, 59):
        pdf = typeset(converter, notice(body=[{"text": PARAGRAPH}] * paragraphs))
        printed = pages(pdf)
        texts = [p.text.replace(" ", "") for p in printed]
        on = [p.number for p, t in zip(printed, texts, strict=True) if "2021年4月23日印发" in t]
        signed = [
            p.number
            for p, t in zip(printed, texts, strict=True)
            if "2021年4月23日" in t.replace("2021年4月23日印发", "")
        ]
        assert on == [len(printed)], (paragraphs, on)
        assert len(printed) % 2 == 0, (paragraphs, len(printed))
        text_pages.add(signed[0])
        between = texts[signed[0] : len(printed) - 1]
        assert all(t.strip("—0123456789") == "" for t in between), between  # blank pages
        blanks += len(between)
    assert text_pages == set(range(1, 10))
    assert blanks >= 1
